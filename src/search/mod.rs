//! SEARCH, protocol-neutral: the key a client asks with (`key`), text
//! folding (`fold`), the reference matcher that defines every answer
//! (`matcher`), the planner that answers a key over a mailbox view with the
//! index's candidates and a scan of the rest (`planner`), and the tantivy
//! index itself (`index`). Nothing here knows a protocol.

pub mod fold;
pub mod index;
pub mod key;
pub mod matcher;
pub mod planner;

pub use index::SearchIndex;
pub use key::SearchKey;
