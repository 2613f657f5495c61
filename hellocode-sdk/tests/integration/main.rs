//! Integration tests of the SDK against a real server, over both transports.

mod bot;
mod client;
mod custom;
mod harness;
mod proxy;
mod reconnect;
mod tls;
