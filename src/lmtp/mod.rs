//! LMTP (RFC 2033): mail delivery from an MTA into the store.
//!
//! Layered like `imap`: `command` (the RFC 5321 grammar of one line),
//! `data` (the message after DATA: its end, dot-unstuffing, limits),
//! `reply` (reply codes and their wire form) and `session` (the state
//! machine) are sans-IO and know nothing of sockets, actors or the store.

pub mod command;
pub mod conn;
pub mod data;
pub mod deliver;
pub mod lda;
pub mod listener;
pub mod reply;
pub mod session;
#[cfg(test)]
mod tests;
