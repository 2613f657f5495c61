//! Integration tests of hellocode-server: a real server on a random loopback port, real
//! WebSocket and HTTP clients, on SQLite and on Postgres.
#![allow(unreachable_pub)] // test modules share items with `pub`; nothing here is a public API

mod harness;

/// Instantiate scenario functions (`async fn(Backend)`) once per backend.
macro_rules! on_backends {
    ($module:ident: $($scenario:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(crate::harness::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(crate::harness::Backend::Postgres).await;
                }
            )+
        }
    };
}

mod auth;
mod commands;
mod fuzz_regressions;
mod groups;
mod identity;
mod invitations;
mod limits;
mod media;
mod nodes;
mod processes;
mod push;
mod resilience;
mod rest;
mod validation;
mod web;
mod websocket;
