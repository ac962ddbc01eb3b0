//! Typed server responses (RFC 3501 §7 and the `response` productions of §9),
//! as the session builds them and the encoder writes them.

use std::num::NonZeroU32;

use chrono::{DateTime, FixedOffset};

use super::types::{Flag, FlagFetch, FlagPerm, Section, StatusItem, Tag};

/// One response line (possibly with literals inside).
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    Status(StatusResponse),
    Data(Data),
    /// `continue-req = "+" SP (resp-text / base64) CRLF`.
    Continue(Continue),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Continue {
    /// `+ text` (the text may carry a code).
    Text { code: Option<Code>, text: String },
    /// `+ base64`: a SASL server challenge; the bytes are encoded on the wire.
    Base64(Vec<u8>),
}

/// `resp-cond-state`, `resp-cond-bye`, `resp-cond-auth` and tagged status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusResponse {
    /// `None` for an untagged (`*`) response.
    pub tag: Option<Tag>,
    pub kind: StatusKind,
    pub code: Option<Code>,
    /// Human-readable `text`; must not contain CR or LF (the encoder
    /// replaces them) and is never empty on the wire.
    pub text: String,
}

impl StatusResponse {
    pub fn tagged(tag: Tag, kind: StatusKind, code: Option<Code>, text: impl Into<String>) -> Self {
        StatusResponse {
            tag: Some(tag),
            kind,
            code,
            text: text.into(),
        }
    }
    pub fn untagged(kind: StatusKind, code: Option<Code>, text: impl Into<String>) -> Self {
        StatusResponse {
            tag: None,
            kind,
            code,
            text: text.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    Ok,
    No,
    Bad,
    /// Only untagged, only in the greeting.
    PreAuth,
    /// Only untagged.
    Bye,
}

/// `resp-text-code` (RFC 3501 §7.1) and the codes of RFC 5530.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    Alert,
    BadCharset(Vec<String>),
    Capability(Vec<String>),
    Parse,
    PermanentFlags(Vec<FlagPerm>),
    ReadOnly,
    ReadWrite,
    TryCreate,
    UidNext(u32),
    UidValidity(u32),
    Unseen(u32),
    // RFC 5530
    Unavailable,
    AuthenticationFailed,
    AuthorizationFailed,
    Expired,
    PrivacyRequired,
    ContactAdmin,
    NoPerm,
    InUse,
    ExpungeIssued,
    Corruption,
    ServerBug,
    ClientBug,
    Cannot,
    Limit,
    OverQuota,
    AlreadyExists,
    NonExistent,
    /// RFC 7889 / RFC 4469: the message is larger than the server accepts.
    TooBig,
    /// RFC 6154 §3: CREATE failed because of a special-use attribute.
    UseAttr,
    /// RFC 4978 §3: compression is already on for this connection.
    CompressionActive,
    /// RFC 4315 §3: the UIDVALIDITY and UID an APPEND gave the message.
    AppendUid {
        uidvalidity: u32,
        uid: u32,
    },
    /// RFC 4315 §3: where COPY put each message, source and destination
    /// UIDs in matching order.
    CopyUid {
        uidvalidity: u32,
        source: Vec<u32>,
        destination: Vec<u32>,
    },
    // RFC 7162
    HighestModSeq(u64),
    /// Messages (numbers, or UIDs for UID STORE) that failed UNCHANGEDSINCE.
    Modified(Vec<u32>),
    /// §3.2.11: the boundary between the old mailbox and the new one.
    Closed,
}

/// Untagged data responses (RFC 3501 §7.2–§7.4, RFC 2971 ID).
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    Capability(Vec<String>),
    /// `mailbox-list`; the name is UTF-8 and is encoded to modified UTF-7.
    List {
        attributes: Vec<String>,
        delimiter: Option<char>,
        name: String,
        /// RFC 5258 §3.5: `("CHILDINFO" ("SUBSCRIBED"))`, a descendant is
        /// subscribed; only ever sent for RECURSIVEMATCH.
        child_info: bool,
    },
    Lsub {
        attributes: Vec<String>,
        delimiter: Option<char>,
        name: String,
    },
    /// Values are `number64` wide (RFC 8438 SIZE, RFC 9208 DELETED-STORAGE).
    Status {
        name: String,
        items: Vec<(StatusItem, u64)>,
    },
    Search(Vec<u32>),
    Flags(Vec<Flag>),
    Exists(u32),
    Recent(u32),
    Expunge(NonZeroU32),
    Fetch {
        seq: NonZeroU32,
        items: Vec<MessageDataItem>,
    },
    Id(Option<Vec<(String, Option<String>)>>),
    /// RFC 9208 §4.2.1: `QUOTA root (resource usage limit ...)`; only
    /// limited resources are listed.
    Quota {
        root: String,
        resources: Vec<(&'static str, u64, u64)>,
    },
    /// RFC 9208 §4.2.2: `QUOTAROOT mailbox root ...`.
    QuotaRoot {
        mailbox: String,
        roots: Vec<String>,
    },
    /// RFC 2342 §5: one personal namespace (prefix, delimiter); no other
    /// users' or shared ones.
    Namespace {
        prefix: String,
        delimiter: char,
    },
    // RFC 5161, RFC 7162
    Enabled(Vec<String>),
    /// `SEARCH` with the highest MODSEQ of the hits (RFC 7162 §3.1.6).
    SearchModSeq {
        hits: Vec<u32>,
        modseq: u64,
    },
    /// `VANISHED [(EARLIER)] uids` (RFC 7162 §3.2.10); UIDs ascending.
    Vanished {
        earlier: bool,
        uids: Vec<u32>,
    },
}

/// `msg-att` items of a FETCH response (RFC 3501 §7.4.2).
#[derive(Debug, Clone, PartialEq)]
pub enum MessageDataItem {
    Flags(Vec<FlagFetch>),
    Uid(NonZeroU32),
    InternalDate(DateTime<FixedOffset>),
    Rfc822Size(u32),
    /// Pre-encoded `envelope` (RFC 3501 §9), written as is: the store keeps
    /// ENVELOPE computed once at delivery.
    Envelope(Vec<u8>),
    /// Pre-encoded `body` without extension data (FETCH BODY).
    Body(Vec<u8>),
    /// Pre-encoded `body` with extension data (FETCH BODYSTRUCTURE).
    BodyStructure(Vec<u8>),
    /// `BODY[section]<origin>`: `data` is `None` for NIL.
    BodySection {
        section: Section,
        origin: Option<u32>,
        data: Option<Vec<u8>>,
    },
    Rfc822(Option<Vec<u8>>),
    Rfc822Header(Option<Vec<u8>>),
    Rfc822Text(Option<Vec<u8>>),
    /// RFC 7162 `MODSEQ (n)`.
    ModSeq(u64),
}

/// The name of a FETCH item that carries message data, without the data:
/// what a streamed answer writes before the literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataItemName {
    /// `BODY[section]<origin>`.
    BodySection {
        section: Section,
        origin: Option<u32>,
    },
    Rfc822,
    Rfc822Header,
    Rfc822Text,
}

impl DataItemName {
    /// The whole item with its data (`None` for NIL).
    pub fn with_data(self, data: Option<Vec<u8>>) -> MessageDataItem {
        match self {
            DataItemName::BodySection { section, origin } => MessageDataItem::BodySection {
                section,
                origin,
                data,
            },
            DataItemName::Rfc822 => MessageDataItem::Rfc822(data),
            DataItemName::Rfc822Header => MessageDataItem::Rfc822Header(data),
            DataItemName::Rfc822Text => MessageDataItem::Rfc822Text(data),
        }
    }
}
