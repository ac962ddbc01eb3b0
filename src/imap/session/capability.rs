//! Which capabilities the session advertises, as a function of its state.
//!
//! RFC 3501 §6.1.1 and §6.2.1 allow the list to change after STARTTLS and
//! after login; clients must re-ask. Only what is fully implemented is
//! listed.

/// What the capability list depends on.
#[derive(Debug, Clone, Copy)]
pub struct CapabilityContext {
    pub authenticated: bool,
    pub tls_active: bool,
    /// STARTTLS can be offered (plain listener with a TLS config).
    pub starttls_offered: bool,
    /// LOGIN and AUTHENTICATE PLAIN are allowed on this connection now.
    pub plaintext_auth_allowed: bool,
    /// The largest message APPEND accepts, for all mailboxes (RFC 7889).
    pub append_limit: u64,
}

/// The capability atoms, `IMAP4rev1` first as RFC 3501 §7.2.1 requires.
pub fn capabilities(ctx: CapabilityContext) -> Vec<String> {
    let mut caps: Vec<String> = vec!["IMAP4rev1".into()];
    if !ctx.authenticated {
        if ctx.starttls_offered && !ctx.tls_active {
            caps.push("STARTTLS".into());
        }
        if ctx.plaintext_auth_allowed {
            caps.push("AUTH=PLAIN".into());
        } else {
            // RFC 3501 §6.2.3: LOGIN is refused until TLS is active.
            caps.push("LOGINDISABLED".into());
        }
    }
    caps.extend(["SASL-IR", "LITERAL+", "ID"].map(String::from));
    if ctx.authenticated {
        // Mail extensions matter once there is mail to act on.
        caps.extend(["UIDPLUS", "IDLE", "NAMESPACE", "UNSELECT", "CHILDREN"].map(String::from));
        // RFC 4978: COMPRESS is a command-auth, so it is listed once it can
        // be used, with or without TLS. (Its advice to also offer TLS-level
        // DEFLATE is moot: TLS compression is gone, RFC 7457 §2.6.)
        caps.push("COMPRESS=DEFLATE".into());
        // RFC 5161, RFC 7162, RFC 6851
        caps.extend(["ENABLE", "CONDSTORE", "QRESYNC", "MOVE"].map(String::from));
        // RFC 6154, RFC 5258, RFC 5819.
        caps.extend(
            [
                "SPECIAL-USE",
                "CREATE-SPECIAL-USE",
                "LIST-EXTENDED",
                "LIST-STATUS",
            ]
            .map(String::from),
        );
        // RFC 9208 §3.1.1: each resource handled is advertised; no QUOTASET,
        // limits are the administrator's (`roost user quota`).
        caps.extend(
            [
                "QUOTA",
                "QUOTA=RES-STORAGE",
                "QUOTA=RES-MESSAGE",
                "STATUS=SIZE",
            ]
            .map(String::from),
        );
        // RFC 7889 §3: one limit for every mailbox, given in the capability.
        caps.push(format!("APPENDLIMIT={}", ctx.append_limit));
    }
    caps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(a: bool, t: bool, s: bool, p: bool) -> String {
        capabilities(CapabilityContext {
            authenticated: a,
            tls_active: t,
            starttls_offered: s,
            plaintext_auth_allowed: p,
            append_limit: 1000,
        })
        .join(" ")
    }

    #[test]
    fn before_tls_with_plaintext_allowed() {
        assert_eq!(
            caps(false, false, true, true),
            "IMAP4rev1 STARTTLS AUTH=PLAIN SASL-IR LITERAL+ ID"
        );
    }

    #[test]
    fn before_tls_with_plaintext_refused() {
        assert_eq!(
            caps(false, false, true, false),
            "IMAP4rev1 STARTTLS LOGINDISABLED SASL-IR LITERAL+ ID"
        );
    }

    #[test]
    fn after_tls() {
        assert_eq!(
            caps(false, true, true, true),
            "IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+ ID"
        );
    }

    #[test]
    fn after_login() {
        assert_eq!(
            caps(true, true, true, true),
            "IMAP4rev1 SASL-IR LITERAL+ ID UIDPLUS IDLE NAMESPACE UNSELECT CHILDREN COMPRESS=DEFLATE \
             ENABLE CONDSTORE QRESYNC MOVE \
             SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED LIST-STATUS \
             QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE STATUS=SIZE APPENDLIMIT=1000"
        );
    }
}
