//! The admin API: tiers and users under `/api/admin/`. Every handler takes an `Admin`.

use super::auth::Admin;
use super::json::{tier_json, user_json, TierJson};
use super::pagination::{self, Cursor};
use super::App;
use crate::domain::tiers::{Heights, NewTier, Tier, TierName, TierPatch};
use crate::domain::users::{NewUser, Password, User, UserPatch, Username, MAX_USERNAME_CHARS};
use crate::domain::Invalid;
use crate::domain::{FieldErrors, REQUIRED};
use crate::error::ApiError;
use crate::http::{Request, Response};
use crate::passwords;
use crate::ports::Platform;
use crate::ports::StoreError;
use crate::store;
use serde_json::{Map, Value};

fn tier_name_taken() -> ApiError {
    ApiError::Validation(FieldErrors::single(
        "name",
        "tier with this name already exists.",
    ))
}

fn username_taken() -> ApiError {
    ApiError::Validation(FieldErrors::single(
        "username",
        "A user with that username already exists.",
    ))
}

fn no_such_tier(name: &str) -> ApiError {
    ApiError::Validation(FieldErrors::single(
        "tier",
        format!("Tier \"{name}\" does not exist."),
    ))
}

fn last_admin() -> ApiError {
    ApiError::Conflict("This is the last admin: make another user an admin first.".into())
}

/// A store conflict is the named field's "already exists"; anything else stays an error.
fn taken(error: StoreError, conflict: fn() -> ApiError) -> ApiError {
    match error {
        StoreError::Conflict(_) => conflict(),
        other => other.into(),
    }
}

impl<P: Platform> App<P> {
    /// `GET /api/admin/tiers`
    pub(crate) async fn list_tiers(&self, _: &Admin) -> Result<Response, ApiError> {
        let tiers = store::tiers::list(&self.db).await?;
        let body: Vec<TierJson> = tiers.iter().map(tier_json).collect();
        Ok(Response::json(200, &body))
    }

    /// `POST /api/admin/tiers`
    pub(crate) async fn create_tier(
        &self,
        _: &Admin,
        req: &Request<P::Incoming>,
    ) -> Result<Response, ApiError> {
        let new = parse_new_tier(&self.json_object(req).await?)?;
        store::tiers::insert(&self.db, &new, self.now_ms())
            .await
            .map_err(|e| taken(e, tier_name_taken))?;
        Ok(Response::json(
            201,
            &tier_json(&self.tier(new.name.as_str()).await?),
        ))
    }

    /// `GET /api/admin/tiers/{name}`
    pub(crate) async fn get_tier(&self, _: &Admin, name: &str) -> Result<Response, ApiError> {
        Ok(Response::json(200, &tier_json(&self.tier(name).await?)))
    }

    /// `PATCH /api/admin/tiers/{name}`: writes only the fields given; `"is_default": true` makes
    /// it the tier new users get.
    pub(crate) async fn update_tier(
        &self,
        _: &Admin,
        req: &Request<P::Incoming>,
        name: &str,
    ) -> Result<Response, ApiError> {
        let patch = parse_tier_patch(&self.json_object(req).await?)?;
        let tier = store::tiers::update(&self.db, name, &patch)
            .await
            .map_err(|e| taken(e, tier_name_taken))?
            .ok_or(ApiError::NotFound)?;
        Ok(Response::json(200, &tier_json(&tier)))
    }

    /// `DELETE /api/admin/tiers/{name}`: 409 while users still have it or while it is the
    /// default.
    pub(crate) async fn delete_tier(&self, _: &Admin, name: &str) -> Result<Response, ApiError> {
        let tier = self.tier(name).await?;
        if store::tiers::delete_unused(&self.db, tier.id).await? {
            return Ok(Response::no_content());
        }
        // Why not: read again, since it may have become the default meanwhile.
        let tier = self.tier(name).await?;
        Err(ApiError::Conflict(if tier.is_default {
            format!(
                "{} is the default tier, given to new users: make another tier the default first.",
                tier.name.as_str()
            )
        } else {
            "This tier is still assigned to users.".into()
        }))
    }

    /// `GET /api/admin/users`: newest first, keyset-paginated (`limit`, `cursor`, the `Link`
    /// header), with `search` keeping the usernames that contain it.
    pub(crate) async fn list_users(
        &self,
        _: &Admin,
        req: &Request<P::Incoming>,
    ) -> Result<Response, ApiError> {
        let (limit, cursor) = pagination::params(req)?;
        let after = match cursor {
            None => None,
            Some(cursor) => Some((
                cursor.created_at,
                cursor.id.parse::<i64>().map_err(|_| {
                    ApiError::Validation(FieldErrors::single("cursor", "Invalid cursor."))
                })?,
            )),
        };
        let search = req.query_param("search").filter(|s| !s.is_empty());
        if search
            .as_ref()
            .is_some_and(|s| s.chars().count() > MAX_USERNAME_CHARS)
        {
            return Err(ApiError::Validation(FieldErrors::single(
                "search",
                format!("Ensure this field has no more than {MAX_USERNAME_CHARS} characters."),
            )));
        }
        let rows = store::users::page(&self.db, search.as_deref(), limit + 1, after).await?;
        let path = match &search {
            Some(text) => format!("/api/admin/users?search={}", pagination::query_value(text)),
            None => "/api/admin/users".to_owned(),
        };
        Ok(pagination::response(
            &path,
            limit,
            rows,
            |row| Cursor {
                created_at: row.created_at,
                id: row.user.id.to_string(),
            },
            |row| user_json(&row.user),
        ))
    }

    /// `POST /api/admin/users`: `{"username","password","tier"?,"is_admin"?}`; without a tier,
    /// the default tier.
    pub(crate) async fn create_user(
        &self,
        _: &Admin,
        req: &Request<P::Incoming>,
    ) -> Result<Response, ApiError> {
        let new = parse_new_user(&self.json_object(req).await?)?;
        let hash = passwords::hash(&self.kdf, new.password.expose()).await?;
        let inserted = store::users::insert(
            &self.db,
            new.username.as_str(),
            &hash,
            new.tier.as_deref(),
            new.is_admin,
            self.now_ms(),
        )
        .await
        .map_err(|e| match e {
            // The insert resolves the tier itself; should a tier still vanish under it.
            StoreError::MissingReference(_) => {
                no_such_tier(new.tier.as_deref().unwrap_or("default"))
            }
            other => taken(other, username_taken),
        })?;
        if !inserted {
            return Err(match &new.tier {
                Some(name) => no_such_tier(name),
                None => ApiError::Validation(FieldErrors::single(
                    "tier",
                    "There is no default tier: give a tier.",
                )),
            });
        }
        let user = self.user(new.username.as_str()).await?;
        Ok(Response::json(201, &user_json(&user)))
    }

    /// `GET /api/admin/users/{username}`
    pub(crate) async fn get_user(&self, _: &Admin, name: &str) -> Result<Response, ApiError> {
        Ok(Response::json(200, &user_json(&self.user(name).await?)))
    }

    /// `PATCH /api/admin/users/{username}`: any of username, password, tier, is_admin. Only the
    /// fields given are written, so concurrent patches compose. A new password or username ends
    /// every token issued before.
    pub(crate) async fn update_user(
        &self,
        _: &Admin,
        req: &Request<P::Incoming>,
        name: &str,
    ) -> Result<Response, ApiError> {
        let patch = parse_user_patch(&self.json_object(req).await?)?;
        let hash = match &patch.password {
            Some(password) => Some(passwords::hash(&self.kdf, password.expose()).await?),
            None => None,
        };
        let changes = patch.apply(hash);
        let id = store::users::update(&self.db, name, &changes)
            .await
            .map_err(|e| taken(e, username_taken))?;
        let Some(id) = id else {
            // Nothing written: say why.
            self.user(name).await?;
            if let Some(tier) = &changes.tier {
                self.tier_or_error(tier).await?;
            }
            return Err(last_admin());
        };
        let user = store::users::find_by_id(&self.db, id)
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(Response::json(200, &user_json(&user)))
    }

    /// `DELETE /api/admin/users/{username}`: the user, their pictures (rows and objects) and
    /// links. 409 for the last admin.
    pub(crate) async fn delete_user(&self, _: &Admin, name: &str) -> Result<Response, ApiError> {
        let user = self.user(name).await?;
        if !store::users::delete(&self.db, &user).await? {
            return Err(last_admin());
        }
        self.renditions().remove_owner_objects(user.id).await;
        Ok(Response::no_content())
    }

    async fn tier(&self, name: &str) -> Result<Tier, ApiError> {
        store::tiers::find(&self.db, name)
            .await?
            .ok_or(ApiError::NotFound)
    }

    async fn user(&self, name: &str) -> Result<User, ApiError> {
        store::users::find_by_username(&self.db, name)
            .await?
            .ok_or(ApiError::NotFound)
    }

    async fn tier_or_error(&self, name: &str) -> Result<Tier, ApiError> {
        store::tiers::find(&self.db, name)
            .await?
            .ok_or_else(|| no_such_tier(name))
    }
}

/// Reads `field` of `body` with `parse`, adding its error to `errors`; `None` when absent or
/// invalid. `required` adds "This field is required." when absent.
fn field<T>(
    body: &Map<String, Value>,
    name: &str,
    required: bool,
    errors: &mut FieldErrors,
    parse: impl FnOnce(&Value) -> Result<T, Invalid>,
) -> Option<T> {
    match body.get(name) {
        Some(value) => parse(value).map_err(|e| errors.add(name, e.0)).ok(),
        None => {
            if required {
                errors.add(name, REQUIRED);
            }
            None
        }
    }
}

fn string(value: &Value) -> Result<&str, Invalid> {
    value.as_str().ok_or_else(|| "Not a valid string.".into())
}

fn boolean(value: &Value) -> Result<bool, Invalid> {
    value
        .as_bool()
        .ok_or_else(|| "Must be a valid boolean.".into())
}

fn tier_name(value: &Value) -> Result<TierName, Invalid> {
    TierName::parse(string(value)?)
}

fn username(value: &Value) -> Result<Username, Invalid> {
    Username::parse(string(value)?)
}

fn password(value: &Value) -> Result<Password, Invalid> {
    Password::parse(string(value)?)
}

/// `"is_default"` may only be set: a tier stops being the default when another becomes it.
fn make_default(value: &Value) -> Result<bool, Invalid> {
    match boolean(value)? {
        true => Ok(true),
        false => Err("Make another tier the default instead.".into()),
    }
}

fn tier_ref(value: &Value) -> Result<String, Invalid> {
    string(value).map(str::to_owned)
}

fn parse_new_tier(body: &Map<String, Value>) -> Result<NewTier, ApiError> {
    let mut errors = FieldErrors::new();
    let name = field(body, "name", true, &mut errors, tier_name);
    let heights = field(body, "thumbnail_heights", true, &mut errors, Heights::parse);
    let allow_original = field(body, "allow_original", false, &mut errors, boolean);
    let allow_links = field(body, "allow_expiring_links", false, &mut errors, boolean);
    match (name, heights) {
        (Some(name), Some(thumbnail_heights)) if errors.is_empty() => Ok(NewTier {
            name,
            thumbnail_heights,
            allow_original: allow_original.unwrap_or(false),
            allow_expiring_links: allow_links.unwrap_or(false),
        }),
        _ => Err(ApiError::Validation(errors)),
    }
}

fn parse_tier_patch(body: &Map<String, Value>) -> Result<TierPatch, ApiError> {
    let mut errors = FieldErrors::new();
    let patch = TierPatch {
        name: field(body, "name", false, &mut errors, tier_name),
        thumbnail_heights: field(
            body,
            "thumbnail_heights",
            false,
            &mut errors,
            Heights::parse,
        ),
        allow_original: field(body, "allow_original", false, &mut errors, boolean),
        allow_expiring_links: field(body, "allow_expiring_links", false, &mut errors, boolean),
        make_default: field(body, "is_default", false, &mut errors, make_default).unwrap_or(false),
    };
    errors.into_result()?;
    Ok(patch)
}

fn parse_new_user(body: &Map<String, Value>) -> Result<NewUser, ApiError> {
    let mut errors = FieldErrors::new();
    let username = field(body, "username", true, &mut errors, username);
    let password = field(body, "password", true, &mut errors, password);
    let tier = field(body, "tier", false, &mut errors, tier_ref);
    let is_admin = field(body, "is_admin", false, &mut errors, boolean);
    match (username, password) {
        (Some(username), Some(password)) if errors.is_empty() => Ok(NewUser {
            username,
            password,
            tier,
            is_admin: is_admin.unwrap_or(false),
        }),
        _ => Err(ApiError::Validation(errors)),
    }
}

fn parse_user_patch(body: &Map<String, Value>) -> Result<UserPatch, ApiError> {
    let mut errors = FieldErrors::new();
    let patch = UserPatch {
        username: field(body, "username", false, &mut errors, username),
        password: field(body, "password", false, &mut errors, password),
        tier: field(body, "tier", false, &mut errors, tier_ref),
        is_admin: field(body, "is_admin", false, &mut errors, boolean),
    };
    errors.into_result()?;
    Ok(patch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_create_request_needs_name_and_heights() {
        let Err(ApiError::Validation(errors)) = parse_new_tier(&object(json!({}))) else {
            panic!("expected validation errors");
        };
        let response = ApiError::Validation(errors).into_response();
        assert_eq!(
            response.json_body(),
            json!({"name": ["This field is required."], "thumbnail_heights": ["This field is required."]})
        );
    }

    #[test]
    fn a_partial_update_may_leave_everything_out() {
        let patch = parse_tier_patch(&object(json!({"allow_original": true}))).unwrap();
        assert_eq!(patch.allow_original, Some(true));
        assert!(patch.name.is_none() && patch.thumbnail_heights.is_none());
    }

    #[test]
    fn flags_must_be_booleans() {
        assert!(parse_new_tier(&object(
            json!({"name": "x", "thumbnail_heights": [], "allow_original": "yes"})
        ))
        .is_err());
    }
}
