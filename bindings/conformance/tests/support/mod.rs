//! What the Rust runner needs besides the shared crate.

pub(crate) mod canonical;
pub(crate) mod proxy;
