//! The stack's integration tests, one binary: the three services wired together in-process,
//! and the real `bird-stack` binary (its traces too).

mod binary;
mod traces;
mod whole_stack;
