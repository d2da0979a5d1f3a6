//! bird's integration tests, one binary: the app on a random port with bird-image played by
//! wiremock (or the real bird-image), and the real `bird` binary.

mod answers;
mod binary;
mod faults;
mod shutdown;
