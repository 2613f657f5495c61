//! The bot framework against a real server.
