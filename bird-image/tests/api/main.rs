//! bird-image's integration tests, one binary: the app on a random port with Unsplash played
//! by wiremock, a real store (`redis-server`) for the fleet, and the real `bird-image` binary.

mod answers;
mod claims;
mod faults;
mod fleet;
mod hostile_input;
mod quota;
mod revalidation;
mod shutdown;
mod startup;
mod store_faults;
mod store_server;
mod support;
