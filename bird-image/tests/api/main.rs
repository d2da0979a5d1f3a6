//! bird-image's integration tests, one binary: the app on a random port with Unsplash played
//! by wiremock, and the real `bird-image` binary.

mod answers;
mod faults;
mod hostile_input;
mod quota;
mod revalidation;
mod shutdown;
mod startup;
mod support;
