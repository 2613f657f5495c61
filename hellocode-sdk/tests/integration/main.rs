//! Integration tests of the SDK against a real server, over both transports.

mod accounts;
mod bot;
mod chats;
mod client;
mod custom;
mod harness;
mod proxy;
mod reconnect;
mod tls;
