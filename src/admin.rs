//! The admin API: tiers and users under `/api/admin/`, for admin users only.

use crate::app::{json_object, App, Platform};
use crate::error::{ApiError, FieldErrors, REQUIRED};
use crate::http::{Request, Response};
use crate::passwords::{self, MIN_PASSWORD_LEN};
use crate::pictures;
use crate::tiers::{self, Tier, TierChanges};
use crate::users::{self, Username};
use serde_json::{Map, Value};

/// The tier a user gets when none is given.
pub const DEFAULT_TIER: &str = "Basic";

impl<P: Platform> App<P> {
    /// `GET /api/admin/tiers`
    pub(crate) async fn list_tiers(&self, req: &Request) -> Result<Response, ApiError> {
        self.authenticate_admin(req).await?;
        Ok(Response::json(200, &tiers::list(&self.db).await?))
    }

    /// `POST /api/admin/tiers`
    pub(crate) async fn create_tier(&self, req: &Request) -> Result<Response, ApiError> {
        self.authenticate_admin(req).await?;
        let changes = TierChanges::parse(&Value::Object(json_object(req)?), false)?;
        Ok(Response::json(
            201,
            &tiers::create(&self.db, changes, self.now_ms()).await?,
        ))
    }

    /// `GET /api/admin/tiers/{name}`
    pub(crate) async fn get_tier(&self, req: &Request, name: &str) -> Result<Response, ApiError> {
        self.authenticate_admin(req).await?;
        Ok(Response::json(200, &tiers::get(&self.db, name).await?))
    }

    /// `PATCH /api/admin/tiers/{name}`
    pub(crate) async fn update_tier(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, ApiError> {
        self.authenticate_admin(req).await?;
        let changes = TierChanges::parse(&Value::Object(json_object(req)?), true)?;
        Ok(Response::json(
            200,
            &tiers::update(&self.db, name, changes).await?,
        ))
    }

    /// `DELETE /api/admin/tiers/{name}`: 409 while users still have it.
    pub(crate) async fn delete_tier(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, ApiError> {
        self.authenticate_admin(req).await?;
        tiers::delete(&self.db, name).await?;
        Ok(Response::no_content())
    }

    /// `GET /api/admin/users`
    pub(crate) async fn list_users(&self, req: &Request) -> Result<Response, ApiError> {
        self.authenticate_admin(req).await?;
        let list: Vec<Value> = users::list(&self.db)
            .await?
            .iter()
            .map(users::User::to_json)
            .collect();
        Ok(Response::json(200, &list))
    }

    /// `POST /api/admin/users`: `{"username","password","tier"?,"is_admin"?}`.
    pub(crate) async fn create_user(&self, req: &Request) -> Result<Response, ApiError> {
        self.authenticate_admin(req).await?;
        let changes = UserChanges::parse(&json_object(req)?, false)?;
        let tier = self
            .tier_or_error(changes.tier.as_deref().unwrap_or(DEFAULT_TIER))
            .await?;
        let username = changes
            .username
            .expect("parse(partial = false) requires a username");
        if users::find_by_username(&self.db, username.as_str())
            .await?
            .is_some()
        {
            return Err(users::username_taken());
        }
        let password = changes
            .password
            .expect("parse(partial = false) requires a password");
        let hash = passwords::hash(&self.kdf, &password).await?;
        let user = users::insert(
            &self.db,
            &username,
            &hash,
            &tier,
            changes.is_admin.unwrap_or(false),
            self.now_ms(),
        )
        .await?;
        Ok(Response::json(201, &user.to_json()))
    }

    /// `GET /api/admin/users/{username}`
    pub(crate) async fn get_user(&self, req: &Request, name: &str) -> Result<Response, ApiError> {
        self.authenticate_admin(req).await?;
        let user = users::find_by_username(&self.db, name)
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(Response::json(200, &user.to_json()))
    }

    /// `PATCH /api/admin/users/{username}`: any of username, password, tier, is_admin.
    pub(crate) async fn update_user(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, ApiError> {
        self.authenticate_admin(req).await?;
        let mut user = users::find_by_username(&self.db, name)
            .await?
            .ok_or(ApiError::NotFound)?;
        let changes = UserChanges::parse(&json_object(req)?, true)?;
        if let Some(tier) = changes.tier {
            user.tier = self.tier_or_error(&tier).await?;
        }
        if let Some(username) = changes.username {
            if username.as_str() != user.username
                && users::find_by_username(&self.db, username.as_str())
                    .await?
                    .is_some()
            {
                return Err(users::username_taken());
            }
            user.username = username.as_str().to_owned();
        }
        if let Some(password) = changes.password {
            user.password_hash = passwords::hash(&self.kdf, &password).await?;
        }
        if let Some(is_admin) = changes.is_admin {
            user.is_admin = is_admin;
        }
        users::save(&self.db, &user).await?;
        Ok(Response::json(200, &user.to_json()))
    }

    /// `DELETE /api/admin/users/{username}`: the user, their pictures (rows and objects) and links.
    pub(crate) async fn delete_user(
        &self,
        req: &Request,
        name: &str,
    ) -> Result<Response, ApiError> {
        self.authenticate_admin(req).await?;
        let user = users::find_by_username(&self.db, name)
            .await?
            .ok_or(ApiError::NotFound)?;
        pictures::delete_all_of(self, &user).await?;
        Ok(Response::no_content())
    }

    async fn tier_or_error(&self, name: &str) -> Result<Tier, ApiError> {
        tiers::find(&self.db, name).await?.ok_or_else(|| {
            ApiError::Validation(FieldErrors::single(
                "tier",
                format!("Tier \"{name}\" does not exist."),
            ))
        })
    }
}

#[derive(Default)]
struct UserChanges {
    username: Option<Username>,
    password: Option<String>,
    tier: Option<String>,
    is_admin: Option<bool>,
}

impl UserChanges {
    fn parse(body: &Map<String, Value>, partial: bool) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();
        let mut changes = UserChanges::default();
        let text = |field: &str, errors: &mut FieldErrors| -> Option<String> {
            match body.get(field) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => {
                    errors.add(field, "Not a valid string.");
                    None
                }
                None => {
                    if !partial && field != "tier" {
                        errors.add(field, REQUIRED);
                    }
                    None
                }
            }
        };
        if let Some(name) = text("username", &mut errors) {
            match Username::parse(&name) {
                Ok(u) => changes.username = Some(u),
                Err(e) => errors.add("username", e),
            }
        }
        if let Some(password) = text("password", &mut errors) {
            if password.chars().count() < MIN_PASSWORD_LEN {
                errors.add(
                    "password",
                    format!("Ensure this field has at least {MIN_PASSWORD_LEN} characters."),
                );
            } else {
                changes.password = Some(password);
            }
        }
        changes.tier = text("tier", &mut errors);
        match body.get("is_admin") {
            Some(Value::Bool(b)) => changes.is_admin = Some(*b),
            Some(_) => errors.add("is_admin", "Must be a valid boolean."),
            None => {}
        }
        errors.into_result()?;
        Ok(changes)
    }
}
