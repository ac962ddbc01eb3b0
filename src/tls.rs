//! tls placeholder
pub fn server_config(_c: &crate::config::Config) -> anyhow::Result<std::sync::Arc<tokio_rustls::rustls::ServerConfig>> { todo!() }
