//! Time as the API writes it.

/// An API timestamp: RFC 3339 in UTC with milliseconds.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_utc_with_milliseconds() {
        assert_eq!(
            super::rfc3339(1_800_000_000_123),
            "2027-01-15T08:00:00.123Z"
        );
    }
}
