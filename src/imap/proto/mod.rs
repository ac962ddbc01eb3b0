//! The IMAP protocol core: pure functions over bytes.
//!
//! `frame` finds command boundaries (lines and literals) under hard limits,
//! `parse` turns one framed command into a typed `Command`, `encode` writes
//! typed `Response`s, and `mutf7` converts mailbox names. Nothing here knows
//! about sockets, actors, LMDB or time.

pub mod encode;
pub mod frame;
/// Shared with Maildir++ folder names (`transfer`), so it lives below.
pub use crate::mutf7;
pub mod parse;
pub mod response;
pub mod types;
