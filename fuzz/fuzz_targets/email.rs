//! Email normalization (`canonical_email`). Properties:
//! - never a panic;
//! - idempotent: the canonical form of a canonical form is itself;
//! - a canonical form has no format (`Cf`), control or bidirectional character, one `@`, no
//!   surrounding whitespace, at most 254 bytes and a lower-case ASCII domain;
//! - the NFD, NFKC and full-width spellings of an address have the same canonical form (or are
//!   refused as too long).
#![no_main]

use auth_runtime::accounts::{EmailError, canonical_email};
use libfuzzer_sys::fuzz_target;
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(u32::from(c) + 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(canonical) = canonical_email(input) else {
        return;
    };
    assert_eq!(
        canonical_email(&canonical).as_ref(),
        Ok(&canonical),
        "{input:?}"
    );
    for c in canonical.chars() {
        let category = c.general_category();
        assert!(
            !matches!(category, GeneralCategory::Format | GeneralCategory::Control),
            "{c:?} ({category:?}) in {canonical:?} from {input:?}"
        );
        assert!(
            !matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'),
            "{c:?} in {canonical:?}"
        );
    }
    assert_eq!(canonical.trim(), canonical);
    assert!(canonical.len() <= 254);
    let (local, domain) = canonical.split_once('@').expect("an @");
    assert!(!local.is_empty() && local.len() <= 64 && !domain.contains('@'));
    assert!(
        domain
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'),
        "{domain:?}"
    );
    for (name, variant) in [
        ("NFD", input.nfd().collect::<String>()),
        ("NFKC", input.nfkc().collect::<String>()),
        ("full-width", full_width(input)),
    ] {
        match canonical_email(&variant) {
            Ok(other) => assert_eq!(other, canonical, "{name} of {input:?}"),
            Err(EmailError::TooLong) => {}
            Err(e) => panic!("{name} of {input:?} ({variant:?}) refused: {e}"),
        }
    }
});
