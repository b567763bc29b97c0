//! The admin API: tiers and users under `/api/admin/`. Every handler takes an `Admin`.

use super::auth::Admin;
use super::{App, Platform};
use crate::domain::tiers::{Heights, NewTier, Tier, TierName, TierPatch, DEFAULT_TIER};
use crate::domain::users::{NewUser, Password, User, UserPatch, Username};
use crate::domain::Invalid;
use crate::error::{ApiError, FieldErrors, REQUIRED};
use crate::http::{Request, Response};
use crate::passwords;
use crate::store::{self, StoreError};
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
        Ok(Response::json(200, &store::tiers::list(&self.db).await?))
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
        Ok(Response::json(201, &self.tier(new.name.as_str()).await?))
    }

    /// `GET /api/admin/tiers/{name}`
    pub(crate) async fn get_tier(&self, _: &Admin, name: &str) -> Result<Response, ApiError> {
        Ok(Response::json(200, &self.tier(name).await?))
    }

    /// `PATCH /api/admin/tiers/{name}`
    pub(crate) async fn update_tier(
        &self,
        _: &Admin,
        req: &Request<P::Incoming>,
        name: &str,
    ) -> Result<Response, ApiError> {
        let tier = self.tier(name).await?;
        let patch = parse_tier_patch(&self.json_object(req).await?)?;
        let tier = patch.apply(tier);
        store::tiers::save(&self.db, &tier)
            .await
            .map_err(|e| taken(e, tier_name_taken))?;
        Ok(Response::json(200, &tier))
    }

    /// `DELETE /api/admin/tiers/{name}`: 409 while users still have it.
    pub(crate) async fn delete_tier(&self, _: &Admin, name: &str) -> Result<Response, ApiError> {
        let tier = self.tier(name).await?;
        if !store::tiers::delete_unused(&self.db, tier.id).await? {
            return Err(ApiError::Conflict(
                "This tier is still assigned to users.".into(),
            ));
        }
        Ok(Response::no_content())
    }

    /// `GET /api/admin/users`
    pub(crate) async fn list_users(&self, _: &Admin) -> Result<Response, ApiError> {
        let list: Vec<Value> = store::users::list(&self.db)
            .await?
            .iter()
            .map(User::to_json)
            .collect();
        Ok(Response::json(200, &list))
    }

    /// `POST /api/admin/users`: `{"username","password","tier"?,"is_admin"?}`.
    pub(crate) async fn create_user(
        &self,
        _: &Admin,
        req: &Request<P::Incoming>,
    ) -> Result<Response, ApiError> {
        let new = parse_new_user(&self.json_object(req).await?)?;
        let tier = self.tier_or_error(&new.tier).await?;
        let hash = passwords::hash(&self.kdf, new.password.expose()).await?;
        store::users::insert(
            &self.db,
            new.username.as_str(),
            &hash,
            tier.id,
            new.is_admin,
            self.now_ms(),
        )
        .await
        .map_err(|e| taken(e, username_taken))?;
        let user = self.user(new.username.as_str()).await?;
        Ok(Response::json(201, &user.to_json()))
    }

    /// `GET /api/admin/users/{username}`
    pub(crate) async fn get_user(&self, _: &Admin, name: &str) -> Result<Response, ApiError> {
        Ok(Response::json(200, &self.user(name).await?.to_json()))
    }

    /// `PATCH /api/admin/users/{username}`: any of username, password, tier, is_admin. A new
    /// password or username ends every token issued before.
    pub(crate) async fn update_user(
        &self,
        _: &Admin,
        req: &Request<P::Incoming>,
        name: &str,
    ) -> Result<Response, ApiError> {
        let mut user = self.user(name).await?;
        let patch = parse_user_patch(&self.json_object(req).await?)?;
        if let Some(tier) = patch.tier {
            user.tier = self.tier_or_error(&tier).await?;
        }
        let mut credentials_changed = false;
        if let Some(username) = patch.username {
            credentials_changed |= username.as_str() != user.username;
            user.username = username.as_str().to_owned();
        }
        if let Some(password) = patch.password {
            user.password_hash = passwords::hash(&self.kdf, password.expose()).await?;
            credentials_changed = true;
        }
        if let Some(is_admin) = patch.is_admin {
            user.is_admin = is_admin;
        }
        if credentials_changed {
            user.token_generation += 1;
        }
        if !store::users::save(&self.db, &user)
            .await
            .map_err(|e| taken(e, username_taken))?
        {
            return Err(last_admin());
        }
        Ok(Response::json(200, &user.to_json()))
    }

    /// `DELETE /api/admin/users/{username}`: the user, their pictures (rows and objects) and
    /// links. 409 for the last admin.
    pub(crate) async fn delete_user(&self, _: &Admin, name: &str) -> Result<Response, ApiError> {
        let user = self.user(name).await?;
        if !store::users::delete(&self.db, &user).await? {
            return Err(last_admin());
        }
        self.remove_owner_objects(user.id).await;
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
        store::tiers::find(&self.db, name).await?.ok_or_else(|| {
            ApiError::Validation(FieldErrors::single(
                "tier",
                format!("Tier \"{name}\" does not exist."),
            ))
        })
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
            tier: tier.unwrap_or_else(|| DEFAULT_TIER.to_owned()),
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
