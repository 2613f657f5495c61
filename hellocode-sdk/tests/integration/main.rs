//! Integration tests of the SDK against a real server, over both transports.

mod bot;
mod client;
mod harness;
mod proxy;
mod reconnect;
mod tls;
