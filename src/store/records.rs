//! The byte layouts of the mail tables' keys and records, and the small
//! value types they hold (`Flags`, `SpecialUse`, `MailboxInfo`,
//! `MessageInfo`, `BodyMeta`).
//!
//! The layouts themselves are specified in the `store` module doc; this
//! file is the only code that writes or reads those bytes. Decoders never
//! panic and never guess: a record that does not parse exactly (unknown
//! version, short, trailing bytes, bad UTF-8) is a `DecodeError` that the
//! caller turns into `StoreError::Corruption` with the table and key.

use std::fmt;

/// Why a record did not decode; the caller adds the table and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DecodeError(pub(super) String);

impl DecodeError {
    fn new(detail: impl Into<String>) -> DecodeError {
        DecodeError(detail.into())
    }
}

type Decoded<T> = Result<T, DecodeError>;

/// The IMAP system flags a message keeps (RFC 3501 §2.3.2), as a bitset.
/// `\Recent` is not here: it belongs to a session, not to the message
/// (see `MailboxInfo::recent_floor`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(u8);

impl Flags {
    pub const ANSWERED: Flags = Flags(1);
    pub const FLAGGED: Flags = Flags(1 << 1);
    pub const DELETED: Flags = Flags(1 << 2);
    pub const SEEN: Flags = Flags(1 << 3);
    pub const DRAFT: Flags = Flags(1 << 4);
    /// Every bit a stored record may have set.
    pub const ALL: Flags = Flags(0b1_1111);

    const NAMES: [(Flags, &'static str); 5] = [
        (Flags::ANSWERED, "\\Answered"),
        (Flags::FLAGGED, "\\Flagged"),
        (Flags::DELETED, "\\Deleted"),
        (Flags::SEEN, "\\Seen"),
        (Flags::DRAFT, "\\Draft"),
    ];

    pub const fn empty() -> Flags {
        Flags(0)
    }

    pub const fn bits(self) -> u8 {
        self.0
    }

    /// `None` if a bit outside `ALL` is set.
    pub const fn from_bits(bits: u8) -> Option<Flags> {
        if bits & !Flags::ALL.0 == 0 {
            Some(Flags(bits))
        } else {
            None
        }
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    pub const fn difference(self, other: Flags) -> Flags {
        Flags(self.0 & !other.0)
    }

    pub fn insert(&mut self, other: Flags) {
        self.0 |= other.0;
    }

    pub fn remove(&mut self, other: Flags) {
        self.0 &= !other.0;
    }

    /// The flag with this IMAP name (`\Seen`, case-insensitive), if it is a
    /// stored system flag.
    pub fn from_name(name: &str) -> Option<Flags> {
        Flags::NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(f, _)| *f)
    }

    /// The IMAP names of the flags set, in a fixed order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Flags::NAMES
            .into_iter()
            .filter(move |(f, _)| self.contains(*f))
            .map(|(_, n)| n)
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        self.union(rhs)
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

/// RFC 6154 special-use attributes of a mailbox, as a bitset.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SpecialUse(u16);

impl SpecialUse {
    pub const ALL: SpecialUse = SpecialUse(1);
    pub const ARCHIVE: SpecialUse = SpecialUse(1 << 1);
    pub const DRAFTS: SpecialUse = SpecialUse(1 << 2);
    pub const FLAGGED: SpecialUse = SpecialUse(1 << 3);
    pub const JUNK: SpecialUse = SpecialUse(1 << 4);
    pub const SENT: SpecialUse = SpecialUse(1 << 5);
    pub const TRASH: SpecialUse = SpecialUse(1 << 6);
    const KNOWN: u16 = 0b111_1111;

    const NAMES: [(SpecialUse, &'static str); 7] = [
        (SpecialUse::ALL, "\\All"),
        (SpecialUse::ARCHIVE, "\\Archive"),
        (SpecialUse::DRAFTS, "\\Drafts"),
        (SpecialUse::FLAGGED, "\\Flagged"),
        (SpecialUse::JUNK, "\\Junk"),
        (SpecialUse::SENT, "\\Sent"),
        (SpecialUse::TRASH, "\\Trash"),
    ];

    pub const fn empty() -> SpecialUse {
        SpecialUse(0)
    }

    pub const fn bits(self) -> u16 {
        self.0
    }

    /// `None` if a bit this version does not know is set.
    pub const fn from_bits(bits: u16) -> Option<SpecialUse> {
        if bits & !SpecialUse::KNOWN == 0 {
            Some(SpecialUse(bits))
        } else {
            None
        }
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub const fn contains(self, other: SpecialUse) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn union(self, other: SpecialUse) -> SpecialUse {
        SpecialUse(self.0 | other.0)
    }

    /// The attribute with this name (`\Sent`, case-insensitive).
    pub fn from_name(name: &str) -> Option<SpecialUse> {
        SpecialUse::NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(s, _)| *s)
    }

    /// The attribute names set, in a fixed order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        SpecialUse::NAMES
            .into_iter()
            .filter(move |(s, _)| self.contains(*s))
            .map(|(_, n)| n)
    }
}

impl std::ops::BitOr for SpecialUse {
    type Output = SpecialUse;
    fn bitor(self, rhs: SpecialUse) -> SpecialUse {
        self.union(rhs)
    }
}

impl fmt::Debug for SpecialUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

/// A mailbox as stored: its key (`user_id`, `name`) and its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxInfo {
    pub user_id: u64,
    /// Full hierarchical name, `/`-separated, `INBOX` in upper case.
    pub name: String,
    /// Never reused; messages are keyed by it, so a deleted and re-created
    /// mailbox can never see its predecessor's messages.
    pub id: u64,
    /// Unique per mailbox incarnation and only growing (RFC 3501 §2.3.1.1).
    pub uidvalidity: u32,
    /// The UID the next message gets; greater than every UID ever given.
    pub uidnext: u32,
    /// The MODSEQ of the last change (RFC 7162 HIGHESTMODSEQ).
    pub highest_modseq: u64,
    /// A name that holds no messages, kept because it has inferiors
    /// (RFC 3501 §6.3.4).
    pub noselect: bool,
    pub special_use: SpecialUse,
    /// Number of messages.
    pub messages: u32,
    /// Messages without `\Seen`.
    pub unseen: u32,
    /// Messages with `\Deleted`.
    pub deleted: u32,
    /// Sum of the messages' RFC822.SIZE.
    pub size: u64,
    /// UIDs at or above it are `\Recent` for the next session that claims
    /// them (RFC 3501 §2.3.2).
    pub recent_floor: u32,
    /// Keywords used in this mailbox (for FLAGS and PERMANENTFLAGS); they
    /// stay once used.
    pub keywords: Vec<String>,
}

/// A message as stored in a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    pub uid: u32,
    /// The shared body (raw bytes and pre-computed data).
    pub body_id: u64,
    /// INTERNALDATE: Unix seconds and the zone offset in seconds east of UTC.
    pub internal_date: i64,
    pub tz_offset: i32,
    /// RFC822.SIZE: octets of the raw message.
    pub size: u32,
    pub flags: Flags,
    pub keywords: Vec<String>,
    /// The MODSEQ of the last change to this message (RFC 7162).
    pub modseq: u64,
}

/// What was computed once for a body at append, borrowed from the read
/// transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyMeta<'a> {
    /// How many messages share the body.
    pub refcount: u32,
    /// The `Date:` header as Unix seconds and zone offset, if it parsed.
    pub sent_date: Option<(i64, i32)>,
    pub envelope: &'a [u8],
    pub body: &'a [u8],
    pub bodystructure: &'a [u8],
    pub parts: &'a [u8],
}

/// Record version bytes of the three record kinds.
pub(super) const MAILBOX_V1: u8 = 1;
pub(super) const MESSAGE_V1: u8 = 1;
pub(super) const BODY_META_V1: u8 = 1;

/// Bit 0 of the mailbox record's flag byte.
const MAILBOX_NOSELECT: u8 = 1;

/// A forward-only reader over a record's bytes; every read is checked.
struct ByteReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> ByteReader<'a> {
    fn new(bytes: &'a [u8]) -> ByteReader<'a> {
        ByteReader { bytes, pos: 0 }
    }

    fn take(&mut self, n: usize, what: &str) -> Decoded<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| {
                DecodeError::new(format!(
                    "truncated at {what} (offset {}, {} bytes long)",
                    self.pos,
                    self.bytes.len()
                ))
            })?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Decoded<[u8; N]> {
        let bytes = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn u8(&mut self, what: &str) -> Decoded<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &str) -> Decoded<u16> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &str) -> Decoded<u32> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    fn i32(&mut self, what: &str) -> Decoded<i32> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Decoded<u64> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    fn i64(&mut self, what: &str) -> Decoded<i64> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }

    /// A `u32`-length-prefixed blob.
    fn blob(&mut self, what: &str) -> Decoded<&'a [u8]> {
        let len = self.u32(what)?;
        let len = usize::try_from(len).map_err(|_| DecodeError::new("blob length"))?;
        self.take(len, what)
    }

    fn version(&mut self, expected: u8) -> Decoded<()> {
        match self.u8("record version")? {
            v if v == expected => Ok(()),
            v => Err(DecodeError::new(format!("unknown record version {v}"))),
        }
    }

    fn finish(self) -> Decoded<()> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(DecodeError::new(format!(
                "{} trailing bytes",
                self.bytes.len() - self.pos
            )))
        }
    }
}

/// Keywords: `u16` count, then each as `u16` length and UTF-8 bytes.
/// Lengths are bounded before anything is written (`MAX_KEYWORD_LEN`,
/// `MAX_KEYWORDS`), so the casts cannot truncate.
fn encode_keywords(out: &mut Vec<u8>, keywords: &[String]) {
    let count = u16::try_from(keywords.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&count.to_be_bytes());
    for k in keywords.iter().take(usize::from(count)) {
        let bytes = k.as_bytes();
        let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&bytes[..usize::from(len)]);
    }
}

fn decode_keywords(r: &mut ByteReader<'_>) -> Decoded<Vec<String>> {
    let count = r.u16("keyword count")?;
    let mut out = Vec::with_capacity(usize::from(count.min(64)));
    for _ in 0..count {
        let len = r.u16("keyword length")?;
        let bytes = r.take(usize::from(len), "keyword")?;
        let k = std::str::from_utf8(bytes).map_err(|_| DecodeError::new("keyword is not UTF-8"))?;
        out.push(k.to_owned());
    }
    Ok(out)
}

pub(super) fn encode_mailbox(m: &MailboxInfo) -> Vec<u8> {
    let mut out = Vec::with_capacity(54 + m.keywords.len() * 12);
    out.push(MAILBOX_V1);
    out.extend_from_slice(&m.id.to_be_bytes());
    out.extend_from_slice(&m.uidvalidity.to_be_bytes());
    out.extend_from_slice(&m.uidnext.to_be_bytes());
    out.extend_from_slice(&m.highest_modseq.to_be_bytes());
    out.push(if m.noselect { MAILBOX_NOSELECT } else { 0 });
    out.extend_from_slice(&m.special_use.bits().to_be_bytes());
    out.extend_from_slice(&m.messages.to_be_bytes());
    out.extend_from_slice(&m.unseen.to_be_bytes());
    out.extend_from_slice(&m.deleted.to_be_bytes());
    out.extend_from_slice(&m.size.to_be_bytes());
    out.extend_from_slice(&m.recent_floor.to_be_bytes());
    encode_keywords(&mut out, &m.keywords);
    out
}

pub(super) fn decode_mailbox(user_id: u64, name: &str, bytes: &[u8]) -> Decoded<MailboxInfo> {
    let mut r = ByteReader::new(bytes);
    r.version(MAILBOX_V1)?;
    let id = r.u64("mailbox id")?;
    let uidvalidity = r.u32("uidvalidity")?;
    let uidnext = r.u32("uidnext")?;
    let highest_modseq = r.u64("highest modseq")?;
    let flag_byte = r.u8("flags")?;
    if flag_byte & !MAILBOX_NOSELECT != 0 {
        return Err(DecodeError::new(format!(
            "unknown mailbox flag bits {flag_byte:#04x}"
        )));
    }
    let special = r.u16("special-use")?;
    let special_use = SpecialUse::from_bits(special)
        .ok_or_else(|| DecodeError::new(format!("unknown special-use bits {special:#06x}")))?;
    let messages = r.u32("message count")?;
    let unseen = r.u32("unseen count")?;
    let deleted = r.u32("deleted count")?;
    let size = r.u64("total size")?;
    let recent_floor = r.u32("recent floor")?;
    let keywords = decode_keywords(&mut r)?;
    r.finish()?;
    Ok(MailboxInfo {
        user_id,
        name: name.to_owned(),
        id,
        uidvalidity,
        uidnext,
        highest_modseq,
        noselect: flag_byte & MAILBOX_NOSELECT != 0,
        special_use,
        messages,
        unseen,
        deleted,
        size,
        recent_floor,
        keywords,
    })
}

pub(super) fn encode_message(m: &MessageInfo) -> Vec<u8> {
    let mut out = Vec::with_capacity(36 + m.keywords.len() * 12);
    out.push(MESSAGE_V1);
    out.extend_from_slice(&m.body_id.to_be_bytes());
    out.extend_from_slice(&m.internal_date.to_be_bytes());
    out.extend_from_slice(&m.tz_offset.to_be_bytes());
    out.extend_from_slice(&m.size.to_be_bytes());
    out.push(m.flags.bits());
    out.extend_from_slice(&m.modseq.to_be_bytes());
    encode_keywords(&mut out, &m.keywords);
    out
}

pub(super) fn decode_message(uid: u32, bytes: &[u8]) -> Decoded<MessageInfo> {
    let mut r = ByteReader::new(bytes);
    let (body_id, head) = read_message_head(&mut r, uid)?;
    let keywords = decode_keywords(&mut r)?;
    r.finish()?;
    Ok(MessageInfo {
        uid,
        body_id,
        internal_date: head.internal_date,
        tz_offset: head.tz_offset,
        size: head.size,
        flags: head.flags,
        keywords,
        modseq: head.modseq,
    })
}

/// Sets the system flags and MODSEQ of an encoded message record in place
/// (bytes 25 and 26..34): a STORE that leaves the keywords alone changes
/// nothing else, so the record keeps its size. `buf` is a record that
/// `decode_message` accepted.
pub(super) fn patch_message(buf: &mut [u8], flags: Flags, modseq: u64) {
    if let Some(b) = buf.get_mut(25) {
        *b = flags.bits();
    }
    if let Some(m) = buf.get_mut(26..34) {
        m.copy_from_slice(&modseq.to_be_bytes());
    }
}

/// The fixed-size head of a message record: everything but the keywords,
/// which a search on flags, sizes and dates does not look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageHead {
    pub uid: u32,
    pub internal_date: i64,
    pub tz_offset: i32,
    pub size: u32,
    pub flags: Flags,
    pub modseq: u64,
}

/// Reads the fixed-size head of a message record (bytes 0..34), checking
/// its version and flag bits; the keyword list after it is not read.
pub(super) fn decode_message_head(uid: u32, bytes: &[u8]) -> Decoded<MessageHead> {
    read_message_head(&mut ByteReader::new(bytes), uid).map(|(_, head)| head)
}

/// The version and fixed fields of a message record, and its body id.
fn read_message_head(r: &mut ByteReader<'_>, uid: u32) -> Decoded<(u64, MessageHead)> {
    r.version(MESSAGE_V1)?;
    let body_id = r.u64("body id")?;
    let internal_date = r.i64("internal date")?;
    let tz_offset = r.i32("zone offset")?;
    let size = r.u32("size")?;
    let bits = r.u8("flags")?;
    let flags = Flags::from_bits(bits)
        .ok_or_else(|| DecodeError::new(format!("unknown flag bits {bits:#04x}")))?;
    let modseq = r.u64("modseq")?;
    Ok((
        body_id,
        MessageHead {
            uid,
            internal_date,
            tz_offset,
            size,
            flags,
            modseq,
        },
    ))
}

/// Reads only the flags of a message record (expunge scans every message
/// of a mailbox for `\Deleted`).
pub(super) fn message_flags(bytes: &[u8]) -> Decoded<Flags> {
    if bytes.first() != Some(&MESSAGE_V1) {
        return Err(DecodeError::new("unknown record version"));
    }
    let bits = *bytes
        .get(25)
        .ok_or_else(|| DecodeError::new("truncated at flags"))?;
    Flags::from_bits(bits).ok_or_else(|| DecodeError::new(format!("unknown flag bits {bits:#04x}")))
}

/// Reads only the RFC822.SIZE of a message record.
pub(super) fn message_size(bytes: &[u8]) -> Decoded<u32> {
    if bytes.first() != Some(&MESSAGE_V1) {
        return Err(DecodeError::new("unknown record version"));
    }
    let field = bytes
        .get(21..25)
        .ok_or_else(|| DecodeError::new("truncated at size"))?;
    let mut b = [0u8; 4];
    b.copy_from_slice(field);
    Ok(u32::from_be_bytes(b))
}

/// The pre-computed data of a new body, as given at append.
pub(super) struct BodyMetaIn<'a> {
    pub(super) sent_date: Option<(i64, i32)>,
    pub(super) envelope: &'a [u8],
    pub(super) body: &'a [u8],
    pub(super) bodystructure: &'a [u8],
    pub(super) parts: &'a [u8],
}

/// Offset of the refcount in a body-meta record: updated in place.
const BODY_META_REFCOUNT: std::ops::Range<usize> = 1..5;

pub(super) fn encode_body_meta(refcount: u32, m: &BodyMetaIn<'_>) -> Vec<u8> {
    let blobs = [m.envelope, m.body, m.bodystructure, m.parts];
    let mut out = Vec::with_capacity(18 + blobs.iter().map(|b| 4 + b.len()).sum::<usize>());
    out.push(BODY_META_V1);
    out.extend_from_slice(&refcount.to_be_bytes());
    let (secs, tz) = m.sent_date.unwrap_or((0, 0));
    out.push(u8::from(m.sent_date.is_some()));
    out.extend_from_slice(&secs.to_be_bytes());
    out.extend_from_slice(&tz.to_be_bytes());
    for blob in blobs {
        // Blob sizes are bounded by the message size limit, far below 4 GiB.
        let len = u32::try_from(blob.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&blob[..blob.len().min(len as usize)]);
    }
    out
}

pub(super) fn decode_body_meta(bytes: &[u8]) -> Decoded<BodyMeta<'_>> {
    let mut r = ByteReader::new(bytes);
    r.version(BODY_META_V1)?;
    let refcount = r.u32("refcount")?;
    let has_sent = r.u8("sent date flag")?;
    let secs = r.i64("sent date")?;
    let tz = r.i32("sent date zone")?;
    let sent_date = match has_sent {
        0 => None,
        1 => Some((secs, tz)),
        v => return Err(DecodeError::new(format!("sent date flag is {v}"))),
    };
    let envelope = r.blob("envelope")?;
    let body = r.blob("body")?;
    let bodystructure = r.blob("bodystructure")?;
    let parts = r.blob("part map")?;
    r.finish()?;
    Ok(BodyMeta {
        refcount,
        sent_date,
        envelope,
        body,
        bodystructure,
        parts,
    })
}

/// The body-meta record with its refcount replaced; the record must have
/// decoded first.
pub(super) fn with_refcount(bytes: &[u8], refcount: u32) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if let Some(field) = out.get_mut(BODY_META_REFCOUNT) {
        field.copy_from_slice(&refcount.to_be_bytes());
    }
    out
}

// Keys. Every integer is big-endian so keys sort numerically and a prefix
// selects one user's or one mailbox's rows.

/// `mailboxes` and `subscriptions`: user id, then the name's bytes.
pub(super) fn name_key(user_id: u64, name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + name.len());
    key.extend_from_slice(&user_id.to_be_bytes());
    key.extend_from_slice(name.as_bytes());
    key
}

/// Splits a `name_key` (also the value of `mailbox_ids`).
pub(super) fn split_name_key(key: &[u8]) -> Decoded<(u64, &str)> {
    let (user, name) = key
        .split_first_chunk::<8>()
        .ok_or_else(|| DecodeError::new("shorter than a user id"))?;
    let name = std::str::from_utf8(name).map_err(|_| DecodeError::new("name is not UTF-8"))?;
    Ok((u64::from_be_bytes(*user), name))
}

/// `messages` and `expunged`: mailbox id, uid.
pub(super) fn uid_key(mailbox_id: u64, uid: u32) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..8].copy_from_slice(&mailbox_id.to_be_bytes());
    key[8..].copy_from_slice(&uid.to_be_bytes());
    key
}

pub(super) fn split_uid_key(key: &[u8]) -> Decoded<(u64, u32)> {
    let key: &[u8; 12] = key
        .try_into()
        .map_err(|_| DecodeError::new(format!("key of {} bytes, expected 12", key.len())))?;
    let (mailbox, uid) = key.split_at(8);
    let mailbox = u64::from_be_bytes(mailbox.try_into().map_err(|_| DecodeError::new("key"))?);
    let uid = u32::from_be_bytes(uid.try_into().map_err(|_| DecodeError::new("key"))?);
    Ok((mailbox, uid))
}

/// `modseqs`: mailbox id, modseq, uid. One operation gives every message
/// it touches the same modseq, so the uid is part of the key.
pub(super) fn modseq_key(mailbox_id: u64, modseq: u64, uid: u32) -> [u8; 20] {
    let mut key = [0u8; 20];
    key[..8].copy_from_slice(&mailbox_id.to_be_bytes());
    key[8..16].copy_from_slice(&modseq.to_be_bytes());
    key[16..].copy_from_slice(&uid.to_be_bytes());
    key
}

pub(super) fn split_modseq_key(key: &[u8]) -> Decoded<(u64, u64, u32)> {
    let key: &[u8; 20] = key
        .try_into()
        .map_err(|_| DecodeError::new(format!("key of {} bytes, expected 20", key.len())))?;
    let mut r = ByteReader::new(key);
    Ok((r.u64("mailbox id")?, r.u64("modseq")?, r.u32("uid")?))
}

pub(super) fn decode_u64_value(bytes: &[u8]) -> Decoded<u64> {
    let mut r = ByteReader::new(bytes);
    let v = r.u64("value")?;
    r.finish()?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox() -> MailboxInfo {
        MailboxInfo {
            user_id: 3,
            name: "Work/Reports".into(),
            id: 9,
            uidvalidity: 1_700_000_000,
            uidnext: 42,
            highest_modseq: 77,
            noselect: false,
            special_use: SpecialUse::SENT | SpecialUse::ARCHIVE,
            messages: 41,
            unseen: 5,
            deleted: 2,
            size: 123_456,
            recent_floor: 40,
            keywords: vec!["$Forwarded".into(), "Work".into()],
        }
    }

    fn message() -> MessageInfo {
        MessageInfo {
            uid: 17,
            body_id: 5,
            internal_date: 1_700_000_000,
            tz_offset: -18_000,
            size: 8192,
            flags: Flags::SEEN | Flags::FLAGGED,
            keywords: vec!["$Junk".into()],
            modseq: 12,
        }
    }

    #[test]
    fn flags_helpers() {
        let mut f = Flags::SEEN | Flags::DELETED;
        assert!(f.contains(Flags::SEEN));
        assert!(!f.contains(Flags::SEEN | Flags::DRAFT));
        f.remove(Flags::SEEN);
        f.insert(Flags::DRAFT);
        assert_eq!(f.names().collect::<Vec<_>>(), ["\\Deleted", "\\Draft"]);
        assert_eq!(Flags::from_name("\\seen"), Some(Flags::SEEN));
        assert_eq!(Flags::from_name("\\Recent"), None);
        assert_eq!(Flags::from_bits(0x20), None);
        assert_eq!(format!("{:?}", Flags::ANSWERED), "{\"\\\\Answered\"}");
        assert_eq!(SpecialUse::from_name("\\trash"), Some(SpecialUse::TRASH));
        assert_eq!(SpecialUse::from_bits(0x80), None);
    }

    #[test]
    fn mailbox_round_trip() {
        let m = mailbox();
        let back = decode_mailbox(3, "Work/Reports", &encode_mailbox(&m)).expect("decode");
        assert_eq!(back, m);
        let empty = MailboxInfo {
            noselect: true,
            keywords: vec![],
            special_use: SpecialUse::empty(),
            ..m
        };
        let back = decode_mailbox(3, "Work/Reports", &encode_mailbox(&empty)).expect("decode");
        assert_eq!(back, empty);
    }

    /// The v1 mailbox record, byte for byte. If this has to change, the
    /// on-disk format changed: bump the record version and migrate.
    #[test]
    fn mailbox_v1_fixture() {
        let fixture: &[u8] = b"\x01\
            \x00\x00\x00\x00\x00\x00\x00\x09\
            \x65\x53\xf1\x00\
            \x00\x00\x00\x2a\
            \x00\x00\x00\x00\x00\x00\x00\x4d\
            \x00\
            \x00\x22\
            \x00\x00\x00\x29\
            \x00\x00\x00\x05\
            \x00\x00\x00\x02\
            \x00\x00\x00\x00\x00\x01\xe2\x40\
            \x00\x00\x00\x28\
            \x00\x02\
            \x00\x0a$Forwarded\
            \x00\x04Work";
        assert_eq!(encode_mailbox(&mailbox()), fixture);
        assert_eq!(
            decode_mailbox(3, "Work/Reports", fixture).expect("decode"),
            mailbox()
        );
    }

    #[test]
    fn message_round_trip_and_fixture() {
        let m = message();
        assert_eq!(decode_message(17, &encode_message(&m)).expect("decode"), m);
        let fixture: &[u8] = b"\x01\
            \x00\x00\x00\x00\x00\x00\x00\x05\
            \x00\x00\x00\x00\x65\x53\xf1\x00\
            \xff\xff\xb9\xb0\
            \x00\x00\x20\x00\
            \x0a\
            \x00\x00\x00\x00\x00\x00\x00\x0c\
            \x00\x01\
            \x00\x05$Junk";
        assert_eq!(encode_message(&m), fixture);
        assert_eq!(decode_message(17, fixture).expect("decode"), m);
        assert_eq!(message_flags(fixture), Ok(Flags::SEEN | Flags::FLAGGED));
        assert_eq!(message_size(fixture), Ok(8192));
    }

    #[test]
    fn body_meta_round_trip_and_fixture() {
        let input = BodyMetaIn {
            sent_date: Some((1_700_000_000, 3600)),
            envelope: b"(E)",
            body: b"B",
            bodystructure: b"",
            parts: b"\x01\x02",
        };
        let fixture: &[u8] = b"\x01\
            \x00\x00\x00\x02\
            \x01\
            \x00\x00\x00\x00\x65\x53\xf1\x00\
            \x00\x00\x0e\x10\
            \x00\x00\x00\x03(E)\
            \x00\x00\x00\x01B\
            \x00\x00\x00\x00\
            \x00\x00\x00\x02\x01\x02";
        assert_eq!(encode_body_meta(2, &input), fixture);
        let meta = decode_body_meta(fixture).expect("decode");
        assert_eq!(
            meta,
            BodyMeta {
                refcount: 2,
                sent_date: Some((1_700_000_000, 3600)),
                envelope: b"(E)",
                body: b"B",
                bodystructure: b"",
                parts: b"\x01\x02",
            }
        );
        let bumped = with_refcount(fixture, 7);
        assert_eq!(decode_body_meta(&bumped).expect("decode").refcount, 7);
        let none = encode_body_meta(
            1,
            &BodyMetaIn {
                sent_date: None,
                ..input
            },
        );
        assert_eq!(decode_body_meta(&none).expect("decode").sent_date, None);
    }

    #[test]
    fn keys() {
        let k = name_key(0x0102, "INBOX/a");
        assert_eq!(&k[..8], &[0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(split_name_key(&k), Ok((0x0102, "INBOX/a")));
        assert_eq!(
            uid_key(1, 0x0a0b),
            [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0x0a, 0x0b]
        );
        assert_eq!(split_uid_key(&uid_key(7, 9)), Ok((7, 9)));
        assert_eq!(split_modseq_key(&modseq_key(7, 99, 3)), Ok((7, 99, 3)));
        // Numeric order is byte order.
        assert!(uid_key(1, 255) < uid_key(1, 256));
        assert!(modseq_key(1, 255, 9) < modseq_key(1, 256, 0));
        assert!(split_uid_key(b"short").is_err());
    }

    #[test]
    fn bad_records_are_errors() {
        let good_mb = encode_mailbox(&mailbox());
        let good_msg = encode_message(&message());
        let good_meta = encode_body_meta(
            1,
            &BodyMetaIn {
                sent_date: None,
                envelope: b"e",
                body: b"b",
                bodystructure: b"s",
                parts: b"p",
            },
        );
        let mut cases: Vec<(Vec<u8>, &str)> = Vec::new();
        for (good, kind) in [(&good_mb, "mb"), (&good_msg, "msg"), (&good_meta, "meta")] {
            cases.push((Vec::new(), kind));
            cases.push((good[..good.len() - 1].to_vec(), kind));
            let mut v = good.clone();
            v.push(0);
            cases.push((v, kind));
            let mut v = good.clone();
            v[0] = 2;
            cases.push((v, kind));
        }
        let mut bad_flags = good_msg.clone();
        bad_flags[25] = 0x40;
        cases.push((bad_flags, "msg"));
        let mut bad_utf8 = good_msg.clone();
        let last = bad_utf8.len() - 1;
        bad_utf8[last] = 0xff;
        cases.push((bad_utf8, "msg"));
        let mut huge_blob = good_meta.clone();
        huge_blob[18..22].copy_from_slice(&u32::MAX.to_be_bytes());
        cases.push((huge_blob, "meta"));
        for (bytes, kind) in cases {
            let failed = match kind {
                "mb" => decode_mailbox(1, "x", &bytes).is_err(),
                "msg" => decode_message(1, &bytes).is_err(),
                _ => decode_body_meta(&bytes).is_err(),
            };
            assert!(failed, "{kind} {bytes:?} should not decode");
        }
    }
}
