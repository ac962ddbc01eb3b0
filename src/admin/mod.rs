//! The admin panel and the admin API, served by axum in the roost process.

pub mod secrets;
