//! Typed IMAP4rev1 commands (RFC 3501 §6 and the §9 grammar), as the parser
//! produces them and the session consumes them.
//!
//! Values here are already validated: a `Tag` never contains `+`, a
//! `MailboxName` is decoded from modified UTF-7, a sequence number is never 0.
//! Nothing in this module knows about sockets, actors or storage.

use std::fmt;
use std::num::NonZeroU32;

use chrono::{DateTime, FixedOffset};

pub use crate::auth::Secret;
pub use crate::search::SearchKey;
pub use crate::types::{
    Flag, FlagFetch, Section, SectionText, SeqOrUid, SeqRange, SequenceSet, StoreKind, UseAttr,
};

/// `tag = 1*<any ASTRING-CHAR except "+">` (RFC 3501 §9).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Tag(String);

impl Tag {
    /// Returns `None` unless `s` is a valid tag.
    pub fn new(s: &str) -> Option<Tag> {
        if !s.is_empty() && s.bytes().all(|b| is_astring_char(b) && b != b'+') {
            Some(Tag(s.to_owned()))
        } else {
            None
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({})", self.0)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `ATOM-CHAR = <any CHAR except atom-specials>` (RFC 3501 §9).
pub fn is_atom_char(b: u8) -> bool {
    (0x21..=0x7e).contains(&b)
        && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// `ASTRING-CHAR = ATOM-CHAR / resp-specials` (RFC 3501 §9).
pub fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// `list-char = ATOM-CHAR / list-wildcards / resp-specials` (RFC 3501 §9).
pub fn is_list_char(b: u8) -> bool {
    is_atom_char(b) || matches!(b, b'%' | b'*' | b']')
}

/// A mailbox name, decoded from modified UTF-7 (RFC 3501 §5.1.3).
///
/// `INBOX` in any case is the distinguished `Inbox` (RFC 3501 §5.1); every
/// other name keeps its case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Mailbox {
    Inbox,
    Other(String),
}

impl Mailbox {
    pub fn from_utf8(name: String) -> Mailbox {
        if name.eq_ignore_ascii_case("INBOX") {
            Mailbox::Inbox
        } else {
            Mailbox::Other(name)
        }
    }
    /// The name as the store knows it (UTF-8, `INBOX` canonical).
    pub fn as_str(&self) -> &str {
        match self {
            Mailbox::Inbox => "INBOX",
            Mailbox::Other(s) => s,
        }
    }
}

/// A flag in PERMANENTFLAGS: any `Flag`, or `\*` (new keywords may be created).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FlagPerm {
    Flag(Flag),
    Asterisk,
}

/// A complete command: tag and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub tag: Tag,
    pub body: CommandBody,
}

/// The SASL initial response of `AUTHENTICATE mech initial` (RFC 4959).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitialResponse {
    /// `=`: an initial response that is empty.
    Empty,
    /// The base64-decoded bytes.
    Data(Secret<Vec<u8>>),
}

/// Every command the grammar knows (RFC 3501 §6, §9; ID from RFC 2971).
#[derive(Debug, Clone, PartialEq)]
pub enum CommandBody {
    // §6.1: any state
    Capability,
    Noop,
    Logout,
    // §6.2: not authenticated
    StartTls,
    Authenticate {
        /// Upper-cased mechanism name, e.g. `PLAIN`.
        mechanism: String,
        initial_response: Option<InitialResponse>,
    },
    Login {
        username: Vec<u8>,
        password: Secret<Vec<u8>>,
    },
    // §6.3: authenticated
    /// With RFC 7162's `select-param`s (CONDSTORE, QRESYNC).
    Select {
        mailbox: Mailbox,
        params: SelectParams,
    },
    Examine {
        mailbox: Mailbox,
        params: SelectParams,
    },
    /// RFC 6154 §3: `CREATE mailbox (USE (use-attr ...))` gives the new
    /// mailbox special uses; empty for a plain CREATE.
    Create {
        mailbox: Mailbox,
        special_use: Vec<UseAttr>,
    },
    Delete {
        mailbox: Mailbox,
    },
    Rename {
        from: Mailbox,
        to: Mailbox,
    },
    Subscribe {
        mailbox: Mailbox,
    },
    Unsubscribe {
        mailbox: Mailbox,
    },
    /// `list-mailbox` may contain the wildcards `%` and `*`; both arguments
    /// are decoded from modified UTF-7.
    List {
        reference: String,
        pattern: String,
    },
    /// RFC 5258: LIST with selection options, several patterns or return
    /// options (RFC 6154 SPECIAL-USE, RFC 5819 STATUS). Never the special
    /// meaning of an empty pattern; `patterns` is never empty.
    ListExtended {
        select: ListSelect,
        reference: String,
        patterns: Vec<String>,
        returns: ListReturn,
    },
    Lsub {
        reference: String,
        pattern: String,
    },
    Status {
        mailbox: Mailbox,
        items: Vec<StatusItem>,
    },
    Append {
        mailbox: Mailbox,
        flags: Vec<Flag>,
        date: Option<DateTime<FixedOffset>>,
        message: Vec<u8>,
    },
    // §6.4: selected
    Check,
    Close,
    Expunge,
    Search {
        /// Upper-cased charset name from `CHARSET x`, if given.
        charset: Option<String>,
        /// The criteria; several top-level keys are an implicit `And`.
        criteria: SearchKey,
        uid: bool,
    },
    Fetch {
        sequence_set: SequenceSet,
        items: FetchItems,
        uid: bool,
        /// RFC 7162 `fetch-modifier`s: CHANGEDSINCE, VANISHED.
        modifiers: FetchModifiers,
    },
    Store {
        sequence_set: SequenceSet,
        kind: StoreKind,
        silent: bool,
        flags: Vec<Flag>,
        uid: bool,
        /// RFC 7162 §3.1.3 `UNCHANGEDSINCE` store modifier.
        unchanged_since: Option<u64>,
    },
    Copy {
        sequence_set: SequenceSet,
        mailbox: Mailbox,
        uid: bool,
    },
    /// RFC 2177: wait for changes until the client sends `DONE`.
    Idle,
    /// RFC 3691: leave the selected mailbox without expunging.
    Unselect,
    /// RFC 2342: the personal, other users' and shared namespaces.
    Namespace,
    /// RFC 4315 §2.1: `UID EXPUNGE sequence-set` removes only the
    /// \Deleted messages whose UIDs are in the set.
    UidExpunge {
        sequence_set: SequenceSet,
    },
    /// RFC 4978: `COMPRESS algorithm`; the name upper-cased (only
    /// `DEFLATE` is defined, others are refused by the session).
    Compress {
        algorithm: String,
    },
    /// RFC 2971: `ID ("name" "value" ...)` or `ID NIL`.
    Id {
        parameters: Option<Vec<(String, Option<String>)>>,
    },
    // RFC 9208 QUOTA
    /// `GETQUOTA quota-root-name`
    GetQuota {
        root: String,
    },
    /// `GETQUOTAROOT mailbox`: the mailbox need not exist.
    GetQuotaRoot {
        mailbox: Mailbox,
    },
    /// `SETQUOTA quota-root-name (resource limit ...)`; resource names
    /// upper-cased.
    SetQuota {
        root: String,
        limits: Vec<(String, u64)>,
    },
    // RFC 5161 ENABLE, RFC 6851 MOVE
    /// `ENABLE 1*(SP capability)`; names upper-cased.
    Enable {
        capabilities: Vec<String>,
    },
    Move {
        sequence_set: SequenceSet,
        mailbox: Mailbox,
        uid: bool,
    },
}

/// The `select-param`s of RFC 7162 §3.1.8 and §3.2.5.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SelectParams {
    /// `CONDSTORE`: the client is CONDSTORE-aware from now on.
    pub condstore: bool,
    pub qresync: Option<QResync>,
}

/// `"QRESYNC" SP "(" uidvalidity SP mod-sequence-value [SP known-uids]
/// [SP seq-match-data] ")"` (RFC 7162 §3.2.5). No set contains `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QResync {
    pub uidvalidity: NonZeroU32,
    pub modseq: u64,
    pub known_uids: Option<SequenceSet>,
    /// (known-sequence-set, known-uid-set).
    pub seq_match: Option<(SequenceSet, SequenceSet)>,
}

/// The FETCH modifiers of RFC 7162 §3.1.4 and §3.2.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FetchModifiers {
    /// `CHANGEDSINCE n`: only messages whose MODSEQ is above n.
    pub changed_since: Option<u64>,
    /// `VANISHED` (UID FETCH only, with CHANGEDSINCE).
    pub vanished: bool,
}

impl CommandBody {
    /// The command's name as logs and response texts show it.
    pub fn name(&self) -> &'static str {
        match self {
            CommandBody::Capability => "CAPABILITY",
            CommandBody::Noop => "NOOP",
            CommandBody::Logout => "LOGOUT",
            CommandBody::StartTls => "STARTTLS",
            CommandBody::Authenticate { .. } => "AUTHENTICATE",
            CommandBody::Login { .. } => "LOGIN",
            CommandBody::Select { .. } => "SELECT",
            CommandBody::Examine { .. } => "EXAMINE",
            CommandBody::Create { .. } => "CREATE",
            CommandBody::Delete { .. } => "DELETE",
            CommandBody::Rename { .. } => "RENAME",
            CommandBody::Subscribe { .. } => "SUBSCRIBE",
            CommandBody::Unsubscribe { .. } => "UNSUBSCRIBE",
            CommandBody::List { .. } | CommandBody::ListExtended { .. } => "LIST",
            CommandBody::Lsub { .. } => "LSUB",
            CommandBody::Status { .. } => "STATUS",
            CommandBody::Append { .. } => "APPEND",
            CommandBody::Check => "CHECK",
            CommandBody::Close => "CLOSE",
            CommandBody::Expunge => "EXPUNGE",
            CommandBody::Search { uid: false, .. } => "SEARCH",
            CommandBody::Search { uid: true, .. } => "UID SEARCH",
            CommandBody::Fetch { uid: false, .. } => "FETCH",
            CommandBody::Fetch { uid: true, .. } => "UID FETCH",
            CommandBody::Store { uid: false, .. } => "STORE",
            CommandBody::Store { uid: true, .. } => "UID STORE",
            CommandBody::Copy { uid: false, .. } => "COPY",
            CommandBody::Copy { uid: true, .. } => "UID COPY",
            CommandBody::UidExpunge { .. } => "UID EXPUNGE",
            CommandBody::Idle => "IDLE",
            CommandBody::Unselect => "UNSELECT",
            CommandBody::Namespace => "NAMESPACE",
            CommandBody::Id { .. } => "ID",
            CommandBody::GetQuota { .. } => "GETQUOTA",
            CommandBody::GetQuotaRoot { .. } => "GETQUOTAROOT",
            CommandBody::SetQuota { .. } => "SETQUOTA",
            CommandBody::Enable { .. } => "ENABLE",
            CommandBody::Move { uid: false, .. } => "MOVE",
            CommandBody::Move { uid: true, .. } => "UID MOVE",
            CommandBody::Compress { .. } => "COMPRESS",
        }
    }
}

/// `status-att` (RFC 3501 §6.3.10, and the extensions named).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusItem {
    Messages,
    Recent,
    UidNext,
    UidValidity,
    Unseen,
    /// RFC 8438: total RFC822.SIZE of the messages.
    Size,
    /// RFC 9208 §4.1.4: messages with `\Deleted`.
    Deleted,
    /// RFC 9208 §4.1.4: storage an EXPUNGE would free, in octets.
    DeletedStorage,
    /// RFC 7889 §4: the largest message APPEND accepts.
    AppendLimit,
    /// RFC 7162 §3.1.7.
    HighestModSeq,
}

/// LIST selection options (RFC 5258 §3.1, RFC 6154 §2): which names a LIST
/// reports. The parser has already refused RECURSIVEMATCH without
/// SUBSCRIBED, as the grammar requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListSelect {
    pub subscribed: bool,
    /// Remote mailboxes too; there are none here, so it changes nothing.
    pub remote: bool,
    pub recursive_match: bool,
    pub special_use: bool,
}

/// LIST return options (RFC 5258 §3.2, RFC 6154 §2, RFC 5819 §2): what a
/// LIST reports of each name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListReturn {
    pub subscribed: bool,
    pub children: bool,
    pub special_use: bool,
    /// `STATUS (status-att ...)`: a STATUS response after each selectable
    /// mailbox listed; never an empty list.
    pub status: Option<Vec<StatusItem>>,
}

/// The argument of FETCH: a macro or a list of attributes (RFC 3501 §6.4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchItems {
    /// `ALL` = `(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)`
    All,
    /// `FAST` = `(FLAGS INTERNALDATE RFC822.SIZE)`
    Fast,
    /// `FULL` = `(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY)`
    Full,
    /// A single attribute or a parenthesised list of them; never empty.
    Attributes(Vec<FetchAttr>),
}

impl FetchItems {
    /// The macros expanded, as RFC 3501 §6.4.5 defines them.
    pub fn expand(&self) -> Vec<FetchAttr> {
        use FetchAttr::*;
        match self {
            FetchItems::All => vec![Flags, InternalDate, Rfc822Size, Envelope],
            FetchItems::Fast => vec![Flags, InternalDate, Rfc822Size],
            FetchItems::Full => vec![Flags, InternalDate, Rfc822Size, Envelope, Body],
            FetchItems::Attributes(a) => a.clone(),
        }
    }
}

/// `fetch-att` (RFC 3501 §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttr {
    Envelope,
    Flags,
    InternalDate,
    /// `RFC822`: the whole message; sets \Seen.
    Rfc822,
    Rfc822Header,
    Rfc822Size,
    /// `RFC822.TEXT`: the body; sets \Seen.
    Rfc822Text,
    /// `BODY` without a section: the non-extensible BODYSTRUCTURE.
    Body,
    BodyStructure,
    Uid,
    /// RFC 7162 `MODSEQ`.
    ModSeq,
    /// `BODY[section]<partial>` or `BODY.PEEK[section]<partial>`.
    BodySection {
        peek: bool,
        section: Section,
        /// `<origin.length>`: the length is never 0 (RFC 3501 §9 `nz-number`).
        partial: Option<(u32, NonZeroU32)>,
    },
}
