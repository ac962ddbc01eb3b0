//! auth (placeholder until the auth module lands)
use crate::imap::proto::types::Secret;
use crate::store::Store;
#[derive(Clone)]
pub struct Authenticator;
pub enum AuthOutcome { Success { user_id: u64, username: String }, Failed, Throttled, Unavailable }
impl Authenticator {
    pub fn new(_s: Store, _c: crate::config::AuthConfig) -> Self { Authenticator }
    pub async fn verify(&self, _u: &[u8], _p: Secret<Vec<u8>>, _ip: std::net::IpAddr) -> AuthOutcome { todo!() }
}
