//! IMAP: the sans-IO protocol core (`proto`), the per-connection state
//! machine (`session`), the pure FETCH and SEARCH evaluators, the boundary
//! to the store (`mail`), and the actors and listeners that drive them.

pub mod compress;
pub mod conn;
pub mod fetch;
pub mod listener;
pub mod mail_search;
pub mod proto;
pub mod search;
pub mod session;
