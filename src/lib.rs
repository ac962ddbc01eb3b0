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
pub mod mime;
pub mod search_index;
pub mod store;
pub mod tls;
