//! The frontend's integration tests, one binary: the app on a random port with bird played by
//! wiremock, the real `frontend` binary, and the page in a headless browser.

mod browser;
mod faults;
mod pages;
mod shutdown;
