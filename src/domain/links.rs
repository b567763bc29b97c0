//! Expiring links: their lifetime rule, and how long anyone may keep what they serve.

use super::Invalid;
use serde_json::Value;

/// How long a link lives, in seconds: 300..=30000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkLifetime(i64);

impl LinkLifetime {
    pub const MIN: i64 = 300;
    pub const MAX: i64 = 30_000;

    /// Accepts a JSON integer or a string of digits, like the Django service did.
    pub fn parse(value: &Value) -> Result<Self, Invalid> {
        let n = match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        }
        .ok_or("A valid integer is required.")?;
        if !(Self::MIN..=Self::MAX).contains(&n) {
            return Err(format!(
                "Ensure this value is between {} and {}.",
                Self::MIN,
                Self::MAX
            )
            .into());
        }
        Ok(Self(n))
    }

    pub fn secs(self) -> i64 {
        self.0
    }
}

/// Whole seconds left before `expires_at` (never negative).
pub fn time_left(expires_at_ms: i64, now_ms: i64) -> i64 {
    (expires_at_ms - now_ms).max(0) / 1000
}

/// What a client (or any cache) may do with a link's image: never keep it past the expiry.
pub fn cache_control(expires_at_ms: i64, now_ms: i64) -> String {
    format!(
        "private, max-age={}",
        time_left(expires_at_ms, now_ms).min(3600)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lifetimes_from_300_to_30000_seconds_are_accepted() {
        for ok in [json!(300), json!(30000), json!("400"), json!(" 400 ")] {
            assert!(LinkLifetime::parse(&ok).is_ok(), "{ok}");
        }
        for bad in [
            json!(299),
            json!(30001),
            json!(-5),
            json!(1.5),
            json!("abc"),
            json!("1.5"),
            json!(true),
            json!([300]),
        ] {
            assert!(LinkLifetime::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn time_left_counts_whole_seconds_and_never_goes_negative() {
        assert_eq!(time_left(10_999, 0), 10);
        assert_eq!(time_left(1_000, 1_000), 0);
        assert_eq!(time_left(0, 5_000), 0);
    }

    #[test]
    fn a_link_is_never_cached_past_its_expiry() {
        assert_eq!(
            cache_control(1_000_000 + 42_500, 1_000_000),
            "private, max-age=42"
        );
        assert_eq!(
            cache_control(1_000_000 + 30_000_000, 1_000_000),
            "private, max-age=3600"
        );
    }
}
