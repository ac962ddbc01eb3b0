//! IMAP: the sans-IO protocol core (`proto`), the per-connection state
//! machine (`session`), the pure FETCH and SEARCH evaluators, the boundary
//! to the store (`mail`), and the actors and listeners that drive them.

pub mod compress;
pub mod conn;
pub mod fetch;
pub mod listener;
pub mod proto;
pub mod session;
