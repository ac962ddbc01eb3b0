//! Text folding: how SEARCH compares strings case-insensitively (RFC 3501
//! §6.4.4), the same for the reference matcher and the index.

/// Simple case folding: each character lower-cased on its own, then the
/// characters whose case fold is not their lower case mapped to it.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        for l in c.to_lowercase() {
            out.push(match l {
                'ς' => 'σ',
                'ſ' => 's',
                'ϐ' => 'β',
                'ϑ' => 'θ',
                'ϕ' => 'φ',
                'ϖ' => 'π',
                'ϰ' => 'κ',
                'ϱ' => 'ρ',
                'ϵ' => 'ε',
                'ẛ' => 'ṡ',
                '\u{1FBE}' | '\u{0345}' => 'ι',
                other => other,
            });
        }
    }
    out
}
