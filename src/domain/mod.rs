//! The service's vocabulary: values that validate on construction, so code past parsing never
//! holds an invalid one. No HTTP, no SQL: errors are plain messages (`Invalid`) attached to a
//! field (`FieldErrors`).

pub mod ids;
pub mod links;
pub mod names;
pub mod pictures;
pub mod tiers;
pub mod time;
pub mod users;

use serde_json::{Map, Value};

/// Why a value was refused: a message for the client, attached to a field by the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

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

/// Per-field validation messages: what the client is told of invalid input, as
/// `{"field": ["message", ...]}` like the Django service this replaces.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldErrors(Map<String, Value>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: &str, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let entry = self
            .0
            .entry(field)
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(Value::String(message.into()));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when no error was added, else the errors.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }

    /// The JSON object the client is sent: a list of messages per field.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }
}

/// The message of a field that is missing.
pub const REQUIRED: &str = "This field is required.";
