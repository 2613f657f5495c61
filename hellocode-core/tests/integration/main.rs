//! Integration tests of hellocode-core: one binary, a module per topic.
#![allow(unreachable_pub)] // test modules share items with `pub`; nothing here is a public API

#[macro_use]
mod conformance;

mod decode_fuzz;
mod memory;
mod postgres;
mod protocol_doc;
mod snapshots;
mod sqlite;
