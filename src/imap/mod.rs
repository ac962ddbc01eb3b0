//! IMAP: the sans-IO protocol core (`proto`), the per-connection state
//! machine (`session`), and the actors and listeners that drive them.

pub mod fetch;
pub mod proto;
pub mod search;
pub mod session;
pub mod conn;
pub mod server;
