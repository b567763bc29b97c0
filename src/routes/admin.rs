//! The admin API: tiers and users under `/api/admin/`. Every handler takes an `Admin`.

use super::auth::Admin;
use super::json::{boolean, string, tier_json, user_json, Fields, TierJson};
use super::pagination::{self, Cursor};
use super::App;
use crate::domain::tiers::{Heights, NewTier, Tier, TierName, TierPatch};
use crate::domain::users::{NewUser, Password, User, UserPatch, Username, MAX_USERNAME_CHARS};
use crate::domain::FieldErrors;
use crate::domain::Invalid;
use crate::error::ApiError;
use crate::http::{Request, Response};
use crate::passwords;
use crate::ports::Platform;
use crate::ports::StoreError;
use crate::store;
use serde_json::Value;

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

fn no_such_tier_message(name: &str) -> String {
    format!("Tier \"{name}\" does not exist.")
}

fn no_such_tier(name: &str) -> ApiError {
    ApiError::Validation(FieldErrors::single("tier", no_such_tier_message(name)))
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
        let new = self.read_json(req, new_tier).await?;
        store::tiers::insert(&self.db, &new, self.now_ms())
            .await
            .map_err(|e| taken(e, tier_name_taken))?;
        Ok(Response::json(
            201,
            &tier_json(&self.tier(Some(&new.name)).await?),
        ))
    }

    /// `GET /api/admin/tiers/{name}`
    pub(crate) async fn get_tier(
        &self,
        _: &Admin,
        name: Option<&TierName>,
    ) -> Result<Response, ApiError> {
        Ok(Response::json(200, &tier_json(&self.tier(name).await?)))
    }

    /// `PATCH /api/admin/tiers/{name}`: writes only the fields given; `"is_default": true` makes
    /// it the tier new users get.
    pub(crate) async fn update_tier(
        &self,
        _: &Admin,
        req: &Request<P::Incoming>,
        name: Option<&TierName>,
    ) -> Result<Response, ApiError> {
        let patch = self.read_json(req, tier_patch).await?;
        let name = name.ok_or(ApiError::NotFound)?;
        let tier = store::tiers::update(&self.db, name, &patch)
            .await
            .map_err(|e| taken(e, tier_name_taken))?
            .ok_or(ApiError::NotFound)?;
        Ok(Response::json(200, &tier_json(&tier)))
    }

    /// `DELETE /api/admin/tiers/{name}`: 409 while users still have it or while it is the
    /// default.
    pub(crate) async fn delete_tier(
        &self,
        _: &Admin,
        name: Option<&TierName>,
    ) -> Result<Response, ApiError> {
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
        let new = self.read_json(req, new_user).await?;
        let hash = passwords::hash(&self.kdf, new.password.expose()).await?;
        let inserted = store::users::insert(
            &self.db,
            new.username.as_str(),
            &hash,
            new.tier.as_ref(),
            new.is_admin,
            self.now_ms(),
        )
        .await
        .map_err(|e| match e {
            // The insert resolves the tier itself; should a tier still vanish under it.
            StoreError::MissingReference(_) => {
                no_such_tier(new.tier.as_ref().map_or("default", TierName::as_str))
            }
            other => taken(other, username_taken),
        })?;
        if !inserted {
            return Err(match &new.tier {
                Some(name) => no_such_tier(name.as_str()),
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
        let patch = self.read_json(req, user_patch).await?;
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

    /// The tier `name` names; 404 when there is none (or the route's text could not be a name).
    async fn tier(&self, name: Option<&TierName>) -> Result<Tier, ApiError> {
        let name = name.ok_or(ApiError::NotFound)?;
        store::tiers::find(&self.db, name)
            .await?
            .ok_or(ApiError::NotFound)
    }

    async fn user(&self, name: &str) -> Result<User, ApiError> {
        store::users::find_by_username(&self.db, name)
            .await?
            .ok_or(ApiError::NotFound)
    }

    async fn tier_or_error(&self, name: &TierName) -> Result<Tier, ApiError> {
        store::tiers::find(&self.db, name)
            .await?
            .ok_or_else(|| no_such_tier(name.as_str()))
    }
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

/// A tier named in a user's fields. Text that cannot be a tier's name is answered as a tier that
/// does not exist, as a well-formed name no tier has is when the store resolves it.
fn tier_ref(value: &Value) -> Result<TierName, Invalid> {
    let text = string(value)?;
    TierName::parse(text).map_err(|_| Invalid(no_such_tier_message(text)))
}

fn new_tier(mut f: Fields) -> Result<NewTier, FieldErrors> {
    let name = f.required("name", tier_name);
    let heights = f.required("thumbnail_heights", Heights::parse);
    let allow_original = f.optional("allow_original", boolean);
    let allow_links = f.optional("allow_expiring_links", boolean);
    f.finish(|| {
        Some(NewTier {
            name: name?,
            thumbnail_heights: heights?,
            allow_original: allow_original.unwrap_or(false),
            allow_expiring_links: allow_links.unwrap_or(false),
        })
    })
}

fn tier_patch(mut f: Fields) -> Result<TierPatch, FieldErrors> {
    let patch = TierPatch {
        name: f.optional("name", tier_name),
        thumbnail_heights: f.optional("thumbnail_heights", Heights::parse),
        allow_original: f.optional("allow_original", boolean),
        allow_expiring_links: f.optional("allow_expiring_links", boolean),
        make_default: f.optional("is_default", make_default).unwrap_or(false),
    };
    f.finish(|| Some(patch))
}

fn new_user(mut f: Fields) -> Result<NewUser, FieldErrors> {
    let username = f.required("username", username);
    let password = f.required("password", password);
    let tier = f.optional("tier", tier_ref);
    let is_admin = f.optional("is_admin", boolean);
    f.finish(|| {
        Some(NewUser {
            username: username?,
            password: password?,
            tier,
            is_admin: is_admin.unwrap_or(false),
        })
    })
}

fn user_patch(mut f: Fields) -> Result<UserPatch, FieldErrors> {
    let patch = UserPatch {
        username: f.optional("username", username),
        password: f.optional("password", password),
        tier: f.optional("tier", tier_ref),
        is_admin: f.optional("is_admin", boolean),
    };
    f.finish(|| Some(patch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map};

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_create_request_needs_name_and_heights() {
        let Err(errors) = new_tier(Fields::new(&object(json!({})))) else {
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
        let patch = tier_patch(Fields::new(&object(json!({"allow_original": true})))).unwrap();
        assert_eq!(patch.allow_original, Some(true));
        assert!(patch.name.is_none() && patch.thumbnail_heights.is_none());
    }

    #[test]
    fn flags_must_be_booleans() {
        let body = object(json!({"name": "x", "thumbnail_heights": [], "allow_original": "yes"}));
        assert!(new_tier(Fields::new(&body)).is_err());
    }
}
