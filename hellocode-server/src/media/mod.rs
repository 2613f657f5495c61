//! Uploaded media: checking and preparing an upload (`process`), and where the bytes live on
//! one node (`DirMediaStore`; the database's store serves several nodes).

mod dir_store;
pub mod process;

pub use dir_store::DirMediaStore;
