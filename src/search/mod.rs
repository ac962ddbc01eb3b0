//! SEARCH, protocol-neutral: the key a client asks with (`key`).

pub mod key;

pub use key::SearchKey;
