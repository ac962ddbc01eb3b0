//! Roost: a single-binary IMAP mail appliance.
//!
//! See ARCHITECTURE.md for the map of the code.
#![deny(unsafe_code)]

pub mod admin;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod config;
pub mod conn_limits;
pub mod datadir;
pub mod imap;
pub mod lmtp;
pub mod logging;
pub mod mailbox;
pub mod metrics;
pub mod mime;
pub mod mutf7;
pub mod quoting;
pub mod reload;
pub mod search;
pub mod server;
pub mod store;
pub mod systemd;
pub mod tls;
pub mod transfer;
pub mod types;
