//! # hellocode-server
//!
//! The HelloCode reference server: one warp server with a WebSocket transport (`/ws`,
//! `/ws/chat/<chatId>`) and a REST transport (`/api/...`) of the same protocol, JWT
//! authentication with argon2 password hashes and revocable bot tokens, an event broker seam,
//! `/healthz` and Prometheus `/metrics`, and the web app: a chat page at `/` with its assets
//! embedded in the binary ([`web`]).
//!
//! Every command runs through one [`dispatch::Dispatcher`], which drives the core's session
//! state machine; the transports only move frames.
//!
//! ```no_run
//! use hellocode_server::{Config, Server};
//! use clap::Parser;
//!
//! # async fn run() -> hellocode_server::Result<()> {
//! let config = Config::parse_from(["hellocode-server", "--database", "memory", "--addr", "127.0.0.1:0"]);
//! let server = Server::start(&config).await?;
//! println!("listening on {}", server.local_addr());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

pub mod admission;
pub mod app;
pub mod auth;
pub mod broker;
mod chat_order;
pub mod config;
pub mod creation;
pub mod dispatch;
mod error;
pub mod hub;
mod log_fields;
pub mod media;
pub mod metrics;
pub mod push;
pub mod rate_limit;
pub mod rest;
pub mod revocation;
pub mod send_queue;
pub mod serve;
pub mod web;
pub mod ws;

pub use app::{Server, open_storage, open_storage_with, open_storage_with_media};
pub use config::{Config, LogFormat, Settings};
pub use error::{Error, FieldErrors, Result};
