//! The index's schema: which fields a message's document has, the 3-gram
//! tokenizer, and the byte form of the stored text.
//!
//! A document is one message of one mailbox, keyed by (mailbox id, UID):
//! both are never reused, so a document's content never goes stale; it only
//! outlives its message until the expunge reaches the index.

use tantivy::schema::{
    FAST, INDEXED, IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions, Value as _,
};
use tantivy::tokenizer::{NgramTokenizer, TextAnalyzer};
use tantivy::{Index, TantivyDocument, Term};

use crate::search::matcher::{Field as TextFieldValue, SearchText};

/// The length of the n-grams indexed. A needle of at least this many
/// characters narrows the search to the documents that have all of its
/// n-grams; a shorter one is verified against every stored text.
pub const GRAM: usize = 3;

/// The name the n-gram tokenizer is registered under.
const TOKENIZER: &str = "roost_gram3";

/// The header fields with an n-gram field of their own; any other name is
/// looked for in `header` (the whole header).
pub const OWN_HEADER_FIELDS: [&str; 5] = ["subject", "from", "to", "cc", "bcc"];

/// The fields of the schema, resolved once.
#[derive(Debug, Clone)]
pub struct Fields {
    /// (mailbox id << 32) | UID: the document's identity, for deletes.
    pub key: tantivy::schema::Field,
    pub mailbox: tantivy::schema::Field,
    pub uid: tantivy::schema::Field,
    /// `Date:` header as Unix seconds, and its zone offset in seconds;
    /// `NO_DATE` in `sent` when the message has none.
    pub sent: tantivy::schema::Field,
    pub sent_offset: tantivy::schema::Field,
    /// N-grams of the header fields in `OWN_HEADER_FIELDS`, same order.
    pub own_headers: [tantivy::schema::Field; 5],
    /// N-grams of the whole header as `name: value` lines.
    pub header: tantivy::schema::Field,
    /// N-grams of the body text.
    pub body: tantivy::schema::Field,
    /// The stored, folded text for verification (`encode_header`).
    pub stored_header: tantivy::schema::Field,
    /// The address fields as FROM/TO/CC/BCC see them, stored as name and
    /// value in turn, like `stored_header`.
    pub stored_addresses: tantivy::schema::Field,
    pub stored_body: tantivy::schema::Field,
}

/// `sent` of a message without a readable `Date:` header.
pub const NO_DATE: i64 = i64::MIN;

pub fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let grams = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::Basic)
            .set_fieldnorms(false),
    );
    let key = b.add_u64_field("key", INDEXED | FAST);
    let mailbox = b.add_u64_field("mailbox", INDEXED);
    let uid = b.add_u64_field("uid", FAST);
    let sent = b.add_i64_field("sent", FAST);
    let sent_offset = b.add_i64_field("sent_offset", FAST);
    let own_headers = OWN_HEADER_FIELDS.map(|name| b.add_text_field(name, grams.clone()));
    let header = b.add_text_field("header", grams.clone());
    let body = b.add_text_field("body", grams);
    // Stored as text, not bytes: tantivy reads a stored string in one
    // copy, bytes one by one.
    let stored_header = b.add_text_field("stored_header", STORED);
    let stored_addresses = b.add_text_field("stored_addresses", STORED);
    let stored_body = b.add_text_field("stored_body", STORED);
    let fields = Fields {
        key,
        mailbox,
        uid,
        sent,
        sent_offset,
        own_headers,
        header,
        body,
        stored_header,
        stored_addresses,
        stored_body,
    };
    (b.build(), fields)
}

/// Registers the tokenizer the schema names; needed on every open.
pub fn register_tokenizer(index: &Index) -> tantivy::Result<()> {
    let grams = NgramTokenizer::new(GRAM, GRAM, false)?;
    index
        .tokenizers()
        .register(TOKENIZER, TextAnalyzer::builder(grams).build());
    Ok(())
}

pub fn doc_key(mailbox_id: u64, uid: u32) -> u64 {
    (mailbox_id << 32) | u64::from(uid)
}

pub fn key_term(f: &Fields, mailbox_id: u64, uid: u32) -> Term {
    Term::from_field_u64(f.key, doc_key(mailbox_id, uid))
}

pub fn mailbox_term(f: &Fields, mailbox_id: u64) -> Term {
    Term::from_field_u64(f.mailbox, mailbox_id)
}

/// The document of one message.
pub fn document(
    f: &Fields,
    mailbox_id: u64,
    uid: u32,
    sent: Option<(i64, i32)>,
    text: &SearchText,
) -> TantivyDocument {
    let mut doc = TantivyDocument::new();
    doc.add_u64(f.key, doc_key(mailbox_id, uid));
    doc.add_u64(f.mailbox, mailbox_id);
    doc.add_u64(f.uid, u64::from(uid));
    let (secs, offset) = sent.map_or((NO_DATE, 0), |(s, o)| (s, i64::from(o)));
    doc.add_i64(f.sent, secs);
    doc.add_i64(f.sent_offset, offset);
    for (name, field) in OWN_HEADER_FIELDS.iter().zip(f.own_headers) {
        // Every occurrence of the field, apart: the n-grams across the gap
        // are extra candidates, never missing ones.
        for h in text
            .header
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
        {
            doc.add_text(field, &h.value);
        }
        // FROM/TO/CC/BCC's view of the same field: its addresses written
        // out. The two share the n-gram field; candidates of either are a
        // superset, and verification tells them apart.
        for a in text.addresses.iter().filter(|a| a.name == *name) {
            doc.add_text(field, &a.value);
        }
    }
    // The same lines TEXT matches the header against.
    for h in &text.header {
        doc.add_text(
            f.header,
            format!("{}: {}", crate::search::fold::fold(&h.name), h.value),
        );
    }
    doc.add_text(f.body, &text.body);
    // Name and value of each field in turn; tantivy keeps a field's values
    // in the order they were added.
    for h in &text.header {
        doc.add_text(f.stored_header, &h.name);
        doc.add_text(f.stored_header, &h.value);
    }
    for a in &text.addresses {
        doc.add_text(f.stored_addresses, &a.name);
        doc.add_text(f.stored_addresses, &a.value);
    }
    doc.add_text(f.stored_body, &text.body);
    doc
}

/// The stored text of a document, as it was indexed; `None` if the
/// document does not have the layout this code writes.
pub fn stored_text(f: &Fields, doc: &TantivyDocument) -> Option<SearchText> {
    let mut values = doc.get_all(f.stored_header);
    let mut header = Vec::new();
    while let Some(name) = values.next() {
        let value = values.next()?;
        header.push(TextFieldValue {
            name: name.as_str()?.to_owned(),
            value: value.as_str()?.to_owned(),
        });
    }
    let mut values = doc.get_all(f.stored_addresses);
    let mut addresses = Vec::new();
    while let Some(name) = values.next() {
        let value = values.next()?;
        addresses.push(TextFieldValue {
            name: name.as_str()?.to_owned(),
            value: value.as_str()?.to_owned(),
        });
    }
    Some(SearchText {
        header,
        addresses,
        body: doc.get_first(f.stored_body)?.as_str()?.to_owned(),
    })
}

/// The distinct n-grams of a folded needle, in order of first appearance;
/// empty if it is shorter than `GRAM`.
pub fn grams(needle: &str) -> Vec<String> {
    let chars: Vec<char> = needle.chars().collect();
    let mut out: Vec<String> = Vec::new();
    for w in chars.windows(GRAM) {
        let g: String = w.iter().collect();
        if !out.contains(&g) {
            out.push(g);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_round_trips_any_text() {
        let (_, f) = schema();
        let text = SearchText {
            header: vec![
                TextFieldValue {
                    name: "Subject".into(),
                    value: "a\0b ü 日本語".into(),
                },
                TextFieldValue {
                    name: "X".into(),
                    value: String::new(),
                },
            ],
            addresses: vec![TextFieldValue {
                name: "from".into(),
                value: "ann <a@example.org>, b@example.org".into(),
            }],
            body: "body\0part".into(),
        };
        let doc = document(&f, 1, 2, None, &text);
        assert_eq!(stored_text(&f, &doc), Some(text));
    }

    #[test]
    fn grams_are_character_windows() {
        assert_eq!(grams("ab"), Vec::<String>::new());
        assert_eq!(grams("приве"), vec!["при", "рив", "иве"]);
        assert_eq!(grams("aaaa"), vec!["aaa"]);
    }
}
