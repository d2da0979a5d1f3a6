//! The stack's integration tests, one binary: the three services wired together in-process,
//! and the real `bird-stack` binary.

mod binary;
mod whole_stack;
