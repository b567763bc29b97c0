//! The one rule for names people type (tier names, picture names): no invisible or deceptive
//! characters, no surrounding whitespace, a bounded length.

use super::Invalid;

/// Characters that reorder or hide text (bidirectional overrides, isolates and marks): a name
/// holding one can display as something it is not.
fn is_deceptive(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Checks a display name of at most `max_chars` characters.
pub fn check(name: &str, max_chars: usize) -> Result<(), Invalid> {
    if name.trim().is_empty() {
        return Err("This field may not be blank.".into());
    }
    if name.chars().count() > max_chars {
        return Err(format!("Ensure this field has no more than {max_chars} characters.").into());
    }
    if name.trim() != name {
        return Err("Names may not start or end with whitespace.".into());
    }
    if name.chars().any(|c| c.is_control() || is_deceptive(c)) {
        return Err("Names may not contain control or bidirectional formatting characters.".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refuse_blank_long_padded_control_and_bidi_text() {
        assert!(check("Holiday 2026", 100).is_ok());
        assert!(check("é".repeat(100).as_str(), 100).is_ok());
        for bad in [
            "",
            "   ",
            " leading",
            "trailing ",
            "tab\tinside",
            "new\nline",
            "evil\u{202E}gnp.exe",
            "iso\u{2066}late",
            "mark\u{200F}",
        ] {
            assert!(check(bad, 100).is_err(), "{bad:?}");
        }
        assert!(check(&"x".repeat(101), 100).is_err());
    }
}
