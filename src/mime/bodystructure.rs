//! The `body` production (RFC 3501 §7.4.2, §9): BODY without extension
//! data, BODYSTRUCTURE with it, written from the part map and the raw
//! header blocks.
//!
//! Choices (those of Dovecot, so clients see what they already know):
//! type, subtype, parameter names and values and the transfer encoding are
//! passed as sent (case kept); the defaults are lower case: `"text" "plain"
//! ("charset" "us-ascii")` and `"7bit"`. A text part without a charset
//! parameter gets `("charset" "us-ascii")` appended (RFC 2045 §5.2).
//! RFC 2231 parameters are merged but not decoded (see
//! `header::merge_rfc2231`). Sizes and line counts are of the raw body
//! bytes, which are exactly what `BODY[n]` returns.

use super::envelope;
use super::header::{self, ContentType, Params};
use super::parts::{self, DefaultType, Part, PartKind};
use crate::quoting::{write_header_nstring, write_header_string};

/// Appends the `body` of `part` (parenthesised).
pub(crate) fn write(
    out: &mut Vec<u8>,
    raw: &[u8],
    part: &Part,
    default: DefaultType,
    extended: bool,
) {
    let header = raw.get(part.header_range()).unwrap_or_default();
    let body = raw.get(part.body_range()).unwrap_or_default();
    let ct = parts::content_type(header, default);
    out.push(b'(');
    match part.kind() {
        PartKind::Multipart(children) => {
            let digest = ct
                .as_ref()
                .is_some_and(|c| c.subtype.eq_ignore_ascii_case(b"digest"));
            let child_default = if digest {
                DefaultType::MessageRfc822
            } else {
                DefaultType::TextPlain
            };
            for c in children {
                write(out, raw, c, child_default, extended);
            }
            out.push(b' ');
            let subtype = ct.as_ref().map_or(&b"mixed"[..], |c| &c.subtype);
            write_header_string(out, subtype);
            if extended {
                out.push(b' ');
                write_params(out, ct.as_ref().map_or(&[][..], |c| &c.params));
                write_ext_common(out, header);
            }
        }
        PartKind::Message(inner) => {
            match &ct {
                Some(c) => {
                    write_header_string(out, &c.ty);
                    out.push(b' ');
                    write_header_string(out, &c.subtype);
                }
                None => out.extend_from_slice(b"\"message\" \"rfc822\""),
            }
            out.push(b' ');
            write_fields(
                out,
                header,
                ct.as_ref().map_or(&[][..], |c| &c.params),
                false,
                body.len(),
            );
            out.push(b' ');
            let inner_header = raw.get(inner.header_range()).unwrap_or_default();
            envelope::write(out, inner_header);
            out.push(b' ');
            write(out, raw, inner, DefaultType::TextPlain, extended);
            out.push(b' ');
            out.extend_from_slice(count_lines(body).to_string().as_bytes());
            if extended {
                write_ext_1part(out, header);
            }
        }
        PartKind::Single => {
            let ct = ct.map(|c| {
                // A composite type that was not descended into (no
                // boundary, encoded message/rfc822, or past the limits)
                // cannot be described in its own form: call it opaque data.
                if c.ty.eq_ignore_ascii_case(b"multipart") || c.is("message", "rfc822") {
                    ContentType {
                        ty: b"application".to_vec(),
                        subtype: b"octet-stream".to_vec(),
                        params: c.params,
                    }
                } else {
                    c
                }
            });
            let text = ct
                .as_ref()
                .is_none_or(|c| c.ty.eq_ignore_ascii_case(b"text"));
            match &ct {
                Some(c) => {
                    write_header_string(out, &c.ty);
                    out.push(b' ');
                    write_header_string(out, &c.subtype);
                }
                None => out.extend_from_slice(b"\"text\" \"plain\""),
            }
            out.push(b' ');
            write_fields(
                out,
                header,
                ct.as_ref().map_or(&[][..], |c| &c.params),
                text,
                body.len(),
            );
            if text {
                out.push(b' ');
                out.extend_from_slice(count_lines(body).to_string().as_bytes());
            }
            if extended {
                write_ext_1part(out, header);
            }
        }
    }
    out.push(b')');
}

/// `body-fld-lines`: the number of LF-terminated lines, as Dovecot counts.
fn count_lines(body: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', body).count()
}

/// `body-fields = body-fld-param SP body-fld-id SP body-fld-desc SP
/// body-fld-enc SP body-fld-octets`.
fn write_fields(
    out: &mut Vec<u8>,
    header: &[u8],
    params: &[(Vec<u8>, Vec<u8>)],
    text: bool,
    octets: usize,
) {
    if text
        && !params
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(b"charset"))
    {
        let mut with_charset: Params = params.to_vec();
        with_charset.push((b"charset".to_vec(), b"us-ascii".to_vec()));
        write_params(out, &with_charset);
    } else {
        write_params(out, params);
    }
    out.push(b' ');
    write_header_nstring(out, header::find_unfolded(header, b"content-id").as_deref());
    out.push(b' ');
    write_header_nstring(
        out,
        header::find_unfolded(header, b"content-description").as_deref(),
    );
    out.push(b' ');
    let encoding = header::find(header, b"content-transfer-encoding").and_then(|v| {
        let v = header::unfold(v);
        let token: Vec<u8> = v
            .iter()
            .copied()
            .take_while(|&b| b != b' ' && b != b'\t' && b != b'(' && b != b';')
            .collect();
        (!token.is_empty()).then_some(token)
    });
    write_header_string(out, encoding.as_deref().unwrap_or(b"7bit"));
    out.push(b' ');
    out.extend_from_slice(octets.to_string().as_bytes());
}

/// `body-fld-param`: `("name" "value" ...)` or NIL.
fn write_params(out: &mut Vec<u8>, params: &[(Vec<u8>, Vec<u8>)]) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        write_header_string(out, k);
        out.push(b' ');
        write_header_string(out, v);
    }
    out.push(b')');
}

/// `body-ext-1part`: md5, then what multiparts share.
fn write_ext_1part(out: &mut Vec<u8>, header: &[u8]) {
    out.push(b' ');
    write_header_nstring(
        out,
        header::find_unfolded(header, b"content-md5").as_deref(),
    );
    write_ext_common(out, header);
}

/// ` body-fld-dsp SP body-fld-lang SP body-fld-loc`.
fn write_ext_common(out: &mut Vec<u8>, header: &[u8]) {
    out.push(b' ');
    match header::find(header, b"content-disposition").and_then(header::parse_disposition) {
        Some((ty, params)) => {
            out.push(b'(');
            write_header_string(out, &ty);
            out.push(b' ');
            write_params(out, &params);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    let langs = header::find(header, b"content-language")
        .map(header::parse_language)
        .unwrap_or_default();
    if langs.is_empty() {
        out.extend_from_slice(b"NIL");
    } else {
        out.push(b'(');
        for (i, l) in langs.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            write_header_string(out, l);
        }
        out.push(b')');
    }
    out.push(b' ');
    write_header_nstring(
        out,
        header::find_unfolded(header, b"content-location").as_deref(),
    );
}
