//! The API's JSON: the one way a request's JSON object is read into a `New*` or `*Patch` value
//! (`Fields`, with every field's error), and one function per domain value a response carries,
//! so the domain types know nothing of the wire format.

use crate::domain::ids::LinkId;
use crate::domain::pictures::Picture;
use crate::domain::tiers::Tier;
use crate::domain::time::rfc3339;
use crate::domain::users::User;
use crate::domain::{FieldErrors, Invalid, REQUIRED};
use crate::media::keys;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// A request's JSON object being read into a value: each field with its parser, every error kept
/// under its field's name, all answered at once (a 400).
pub struct Fields<'a> {
    body: &'a Map<String, Value>,
    errors: FieldErrors,
    /// Whether `null` counts as an absent field, or as a value its parser refuses.
    null_is_absent: bool,
}

impl<'a> Fields<'a> {
    pub fn new(body: &'a Map<String, Value>) -> Self {
        Self {
            body,
            errors: FieldErrors::new(),
            null_is_absent: false,
        }
    }

    /// Reads `null` as an absent field.
    pub fn null_is_absent(mut self) -> Self {
        self.null_is_absent = true;
        self
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        let body: &'a Map<String, Value> = self.body;
        body.get(name)
            .filter(|value| !(self.null_is_absent && value.is_null()))
    }

    /// A field the value needs: "This field is required." when it is absent.
    pub fn required<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&Value) -> Result<T, Invalid>,
    ) -> Option<T> {
        if self.get(name).is_none() {
            self.errors.add(name, REQUIRED);
            return None;
        }
        self.optional(name, parse)
    }

    /// A field the value may leave out: `None` when it is absent, or invalid (its error kept).
    pub fn optional<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&Value) -> Result<T, Invalid>,
    ) -> Option<T> {
        match parse(self.get(name)?) {
            Ok(value) => Some(value),
            Err(e) => {
                self.errors.add(name, e.0);
                None
            }
        }
    }

    /// Whether the field is absent.
    pub fn is_absent(&self, name: &str) -> bool {
        self.get(name).is_none()
    }

    /// Adds the error of a rule that holds across fields (or of a field's absence).
    pub fn refuse(&mut self, name: &str, message: &str) {
        self.errors.add(name, message);
    }

    /// The value `build` makes of the fields read, or every field's error.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, FieldErrors> {
        if !self.errors.is_empty() {
            return Err(self.errors);
        }
        // A required field that is missing has added its error, so `build` has what it needs.
        build().ok_or(self.errors)
    }
}

/// A string field.
pub fn string(value: &Value) -> Result<&str, Invalid> {
    value.as_str().ok_or_else(|| "Not a valid string.".into())
}

/// A string field that may not be empty.
pub fn non_blank(value: &Value) -> Result<String, Invalid> {
    match string(value)? {
        "" => Err("This field may not be blank.".into()),
        text => Ok(text.to_owned()),
    }
}

pub fn boolean(value: &Value) -> Result<bool, Invalid> {
    value
        .as_bool()
        .ok_or_else(|| "Must be a valid boolean.".into())
}

/// The picture object of the API; `urls` follow the owner's current tier.
pub fn picture_json(picture: &Picture, owner: &str, tier: &Tier) -> Value {
    json!({
        "id": picture.id.to_string(),
        "owner": owner,
        "name": picture.name,
        "urls": keys::urls(picture.id, tier),
        "created_at": rfc3339(picture.created_at),
        "width": picture.width,
        "height": picture.height,
        "content_type": picture.content_type,
        "size": picture.size,
    })
}

/// The link object of the API (a listed link adds `time_left`).
pub fn link_json(
    id: LinkId,
    lifetime_secs: i64,
    expires_at: i64,
    picture: &Picture,
    owner: &User,
) -> Value {
    json!({
        "url": keys::link_url(id),
        "picture": picture_json(picture, &owner.username, &owner.tier),
        "time": lifetime_secs,
        "expires_at": rfc3339(expires_at),
    })
}

/// The tier object of the API, its fields in this order.
#[derive(Serialize)]
pub struct TierJson<'a> {
    name: &'a str,
    thumbnail_heights: Vec<u32>,
    allow_original: bool,
    allow_expiring_links: bool,
    is_default: bool,
}

pub fn tier_json(tier: &Tier) -> TierJson<'_> {
    TierJson {
        name: tier.name.as_str(),
        thumbnail_heights: tier.thumbnail_heights.iter().map(|h| h.get()).collect(),
        allow_original: tier.allow_original,
        allow_expiring_links: tier.allow_expiring_links,
        is_default: tier.is_default,
    }
}

/// The admin API's user object. The password hash is never part of it.
pub fn user_json(user: &User) -> Value {
    json!({
        "username": user.username,
        "tier": user.tier.name.as_str(),
        "is_admin": user.is_admin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn every_fields_error_is_answered_at_once() {
        let body = body(json!({"a": 5, "c": ""}));
        let mut f = Fields::new(&body);
        let a = f.required("a", non_blank);
        let b = f.required("b", non_blank);
        let c = f.optional("c", non_blank);
        let errors = f.finish(|| Some((a?, b?, c))).unwrap_err();
        assert_eq!(
            Value::Object(errors.into_map()),
            json!({
                "a": ["Not a valid string."],
                "b": ["This field is required."],
                "c": ["This field may not be blank."]
            })
        );
    }

    #[test]
    fn null_is_a_value_unless_the_reader_says_it_is_absent() {
        let body = body(json!({"a": null}));
        let mut strict = Fields::new(&body);
        assert_eq!(strict.optional("a", boolean), None);
        assert!(strict.finish(|| Some(())).is_err());
        let mut lenient = Fields::new(&body).null_is_absent();
        assert!(lenient.is_absent("a"));
        assert_eq!(lenient.optional("a", boolean), None);
        assert_eq!(lenient.finish(|| Some(())), Ok(()));
    }
}
