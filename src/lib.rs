//! Roost: a single-binary IMAP mail appliance.
//!
//! See ARCHITECTURE.md for the map of the code.
#![deny(unsafe_code)]

pub mod admin;
pub mod auth;
pub mod cli;
pub mod config;
pub mod conn_limits;
pub mod imap;
pub mod logging;
pub mod mailbox;
pub mod mime;
pub mod search;
pub mod server;
pub mod store;
pub mod tls;
pub mod types;
