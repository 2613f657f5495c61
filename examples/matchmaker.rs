//! Run with: cargo run --example matchmaker -- --user matchmaker --password '<password>'
//!
//! The original app's purpose as a bot: asked `!find rust`, it lists the users who want to talk
//! about Rust.

fn main() {}
