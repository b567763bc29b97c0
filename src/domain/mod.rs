//! The service's vocabulary: values that validate on construction, so code past parsing never
//! holds an invalid one. No HTTP, no SQL: errors are plain messages that the routes attach to a
//! field.

pub mod ids;
pub mod links;
pub mod names;
pub mod pictures;
pub mod tiers;
pub mod time;
pub mod users;

/// Why a value was refused: a message for the client, attached to a field by the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl From<&str> for Invalid {
    fn from(message: &str) -> Self {
        Self(message.to_owned())
    }
}

impl From<String> for Invalid {
    fn from(message: String) -> Self {
        Self(message)
    }
}
