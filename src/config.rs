//! Configuration read from the Worker's vars and secrets into a typed struct (on Workers, once per
//! isolate: `worker_glue`).

use std::fmt;

/// The JWT signing secret. Its `Debug` never prints it, so it cannot leak into logs.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub jwt_secret: Secret,
    /// `ACCESS_TOKEN_LIFETIME`, in minutes (default 20).
    pub access_token_secs: i64,
    /// `REFRESH_TOKEN_LIFETIME`, in days (default 1).
    pub refresh_token_secs: i64,
    /// `MAX_UPLOAD_BYTES` (default 100 MB, Workers' request-body limit on the Free and Pro
    /// plans): the body is streamed, never held whole (JPEG and PNG are decoded as they
    /// arrive; WebP, GIF, BMP and TIFF, decoded from one buffer, have their own, smaller
    /// limit: `imaging::BUFFERED_MAX_BYTES`).
    pub max_upload_bytes: u64,
    /// `MAX_IMAGE_PIXELS`, checked from the header before decoding.
    pub max_image_pixels: u64,
    /// `MEMORY_BUDGET_BYTES`: wasm memory that uploads and decodes in flight may reserve, for
    /// the whole isolate (default 72 MiB: see `DEFAULT_MEMORY_BUDGET_BYTES`).
    pub memory_budget_bytes: u64,
    /// `UPLOAD_FLOOR_BYTES_PER_SEC`: after a grace of `UPLOAD_GRACE_SECS`, an upload must keep
    /// arriving at least this fast on average, or it is abandoned (408) and its memory freed.
    pub upload_floor_bytes_per_sec: u64,
    /// `UPLOAD_GRACE_SECS` (default 10).
    pub upload_grace_secs: u64,
    /// `CORS_ALLOWED_ORIGINS`: comma-separated origins allowed to call the API from a browser
    /// (`*` for any); empty by default.
    pub cors_allowed_origins: Vec<String>,
}

pub const DEFAULT_ACCESS_MINUTES: i64 = 20;
pub const DEFAULT_REFRESH_DAYS: i64 = 1;
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 100_000_000;
/// The imaging crate's default: the largest image it processes within the isolate's memory.
pub const DEFAULT_MAX_IMAGE_PIXELS: u64 = imaging::DEFAULT_MAX_PIXELS;
/// 64 KiB/s: a slow mobile link (512 kbit/s) still uploads; a client trickling a byte every few
/// seconds does not hold memory for long.
pub const DEFAULT_UPLOAD_FLOOR_BYTES_PER_SEC: u64 = 64 * 1024;
pub const DEFAULT_UPLOAD_GRACE_SECS: u64 = 10;
/// 72 MiB: what is reserved is bounded, but the heap also keeps holes that earlier, differently
/// sized uploads left (measured: up to 21 MiB above the reservations with 20 MB PNGs and 48 MP
/// JPEGs at once), and wasm memory must stay under 96 MiB of the 128 MB the isolate shares with
/// the JS heap.
pub const DEFAULT_MEMORY_BUDGET_BYTES: u64 = 72 * 1024 * 1024;
/// Shorter secrets make HS256 tokens guessable offline.
pub const MIN_SECRET_LEN: usize = 32;

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("secret JWT_SECRET is missing or shorter than {MIN_SECRET_LEN} characters")]
    WeakSecret,
    #[error("var {name} must be a positive integer, got {value:?}")]
    NotAPositiveInteger { name: &'static str, value: String },
}

impl Config {
    /// Builds the configuration from a lookup of vars (`None` when unset) and the secret.
    pub fn from_lookup(
        var: impl Fn(&str) -> Option<String>,
        jwt_secret: Option<String>,
    ) -> Result<Self, ConfigError> {
        let secret = jwt_secret
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .ok_or(ConfigError::WeakSecret)?;
        let positive = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            match var(name) {
                None => Ok(default),
                Some(value) => match value.trim().parse::<u64>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(ConfigError::NotAPositiveInteger { name, value }),
                },
            }
        };
        Ok(Self {
            jwt_secret: Secret::new(secret),
            access_token_secs: positive("ACCESS_TOKEN_LIFETIME", DEFAULT_ACCESS_MINUTES as u64)?
                as i64
                * 60,
            refresh_token_secs: positive("REFRESH_TOKEN_LIFETIME", DEFAULT_REFRESH_DAYS as u64)?
                as i64
                * 86_400,
            max_upload_bytes: positive("MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES)?,
            max_image_pixels: positive("MAX_IMAGE_PIXELS", DEFAULT_MAX_IMAGE_PIXELS)?,
            memory_budget_bytes: positive("MEMORY_BUDGET_BYTES", DEFAULT_MEMORY_BUDGET_BYTES)?,
            upload_floor_bytes_per_sec: positive(
                "UPLOAD_FLOOR_BYTES_PER_SEC",
                DEFAULT_UPLOAD_FLOOR_BYTES_PER_SEC,
            )?,
            upload_grace_secs: positive("UPLOAD_GRACE_SECS", DEFAULT_UPLOAD_GRACE_SECS)?,
            cors_allowed_origins: var("CORS_ALLOWED_ORIGINS")
                .unwrap_or_default()
                .split(',')
                .map(|origin| origin.trim().trim_end_matches('/').to_owned())
                .filter(|origin| !origin.is_empty())
                .collect(),
        })
    }

    /// What an upload may be, as `media::upload` takes it.
    pub fn upload_limits(&self) -> crate::media::upload::UploadLimits {
        crate::media::upload::UploadLimits {
            max_bytes: self.max_upload_bytes,
            max_pixels: self.max_image_pixels,
            pace: crate::media::upload::Pace {
                grace_ms: (self.upload_grace_secs as i64).saturating_mul(1000),
                floor_bytes_per_sec: self.upload_floor_bytes_per_sec,
            },
        }
    }

    /// A configuration for tests, with defaults and a fixed secret.
    #[cfg(test)]
    pub fn for_tests() -> Self {
        Self::from_lookup(
            |_| None,
            Some("test-secret-that-is-long-enough-0123456789".into()),
        )
        .expect("the test configuration is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn defaults_apply_when_vars_are_unset() {
        let config = Config::from_lookup(|_| None, Some(SECRET.into())).unwrap();
        assert_eq!(config.access_token_secs, 20 * 60);
        assert_eq!(config.refresh_token_secs, 86_400);
        assert_eq!(config.max_upload_bytes, 100_000_000);
        assert_eq!(config.max_image_pixels, DEFAULT_MAX_IMAGE_PIXELS);
    }

    #[test]
    fn lifetimes_are_read_in_minutes_and_days() {
        let config = Config::from_lookup(
            |name| match name {
                "ACCESS_TOKEN_LIFETIME" => Some("5".into()),
                "REFRESH_TOKEN_LIFETIME" => Some("7".into()),
                _ => None,
            },
            Some(SECRET.into()),
        )
        .unwrap();
        assert_eq!(
            (config.access_token_secs, config.refresh_token_secs),
            (300, 7 * 86_400)
        );
    }

    #[test]
    fn cors_origins_are_a_trimmed_comma_separated_list_empty_by_default() {
        let none = Config::from_lookup(|_| None, Some(SECRET.into())).unwrap();
        assert!(none.cors_allowed_origins.is_empty());
        let some = Config::from_lookup(
            |name| {
                (name == "CORS_ALLOWED_ORIGINS")
                    .then(|| " https://a.example/, https://b.example ,".into())
            },
            Some(SECRET.into()),
        )
        .unwrap();
        assert_eq!(
            some.cors_allowed_origins,
            ["https://a.example", "https://b.example"]
        );
    }

    #[test]
    fn a_missing_or_short_secret_is_refused() {
        assert_eq!(
            Config::from_lookup(|_| None, None).unwrap_err(),
            ConfigError::WeakSecret
        );
        assert_eq!(
            Config::from_lookup(|_| None, Some("short".into())).unwrap_err(),
            ConfigError::WeakSecret
        );
    }

    #[test]
    fn a_non_numeric_limit_is_refused() {
        let err = Config::from_lookup(
            |name| (name == "MAX_UPLOAD_BYTES").then(|| "lots".to_string()),
            Some(SECRET.into()),
        )
        .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::NotAPositiveInteger {
                name: "MAX_UPLOAD_BYTES",
                ..
            }
        ));
    }

    #[test]
    fn the_secret_never_shows_in_debug_output() {
        let config = Config::from_lookup(|_| None, Some(SECRET.into())).unwrap();
        assert!(!format!("{config:?}").contains(SECRET));
    }
}
