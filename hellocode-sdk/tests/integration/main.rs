//! Integration tests of the SDK against a real server, over both transports.

mod accounts;
mod bot;
mod bot_backlog;
mod bot_commands;
mod bot_limits;
mod chats;
mod client;
mod close_codes;
mod custom;
mod failover;
mod fake;
mod groups;
mod harness;
mod invitations;
mod media;
mod paging;
mod proxy;
mod reconnect;
mod refusals;
mod stalls;
mod tls;
