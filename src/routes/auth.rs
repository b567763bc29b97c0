//! Who is calling: a handler receives a `Caller` or an `Admin` (or, on the read path, a verified
//! `Bearer`), obtained once by the dispatcher, so its signature shows who may call it.

use super::App;
use crate::domain::users::User;
use crate::error::ApiError;
use crate::http::Request;
use crate::ports::Platform;
use crate::store;
use crate::tokens::{self, TokenError, TokenType};

/// The name of the web app's session cookie, which holds an access token.
pub const SESSION_COOKIE: &str = "st_access";

/// A verified access token: who it names, under which token generation. No database read yet.
#[derive(Debug, Clone, Copy)]
pub struct Bearer {
    pub user_id: i64,
    pub generation: i64,
}

/// The authenticated user of a request.
#[derive(Debug)]
pub struct Caller(pub User);

/// An authenticated admin.
#[derive(Debug)]
pub struct Admin(pub User);

impl std::ops::Deref for Caller {
    type Target = User;
    fn deref(&self) -> &User {
        &self.0
    }
}

impl std::ops::Deref for Admin {
    type Target = User;
    fn deref(&self) -> &User {
        &self.0
    }
}

/// A refused token is a 401 quoting why; a token that could not be signed is a server fault.
impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        ApiError::Unauthorized(match &e {
            TokenError::NoCredentials => "Authentication credentials were not provided.",
            TokenError::BadHeader => "Invalid Authorization header.",
            TokenError::Invalid => "Token is invalid.",
            TokenError::WrongType => "Token has wrong type.",
            TokenError::Expired => "Token is expired.",
            TokenError::Signing(_) => return ApiError::internal(e),
        })
    }
}

/// The access token of a request: the `Authorization: Bearer` header, or on GET and HEAD only
/// the session cookie. A cookie never authorizes a change, which (with `SameSite=Strict`) is the
/// defence against cross-site requests.
fn access_token<I>(req: &Request<I>) -> Result<&str, TokenError> {
    if let Some(header) = req.header("authorization") {
        return tokens::bearer(Some(header));
    }
    if req.method.is_safe() {
        if let Some(token) = req.header("cookie").and_then(session_cookie) {
            return Ok(token);
        }
    }
    tokens::bearer(None)
}

/// The session cookie's value in a `Cookie` header.
fn session_cookie(header: &str) -> Option<&str> {
    header.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == SESSION_COOKIE && !value.is_empty()).then_some(value)
    })
}

/// Whether a user row still accepts tokens of `generation`.
pub fn current(user: &User, generation: i64) -> Result<(), ApiError> {
    if user.token_generation != generation {
        return Err(ApiError::Unauthorized("Token is no longer valid."));
    }
    Ok(())
}

impl<P: Platform> App<P> {
    /// The verified access token of the request (no database access).
    pub(crate) fn bearer(&self, req: &Request<P::Incoming>) -> Result<Bearer, ApiError> {
        let claims = tokens::verify(
            &self.config,
            access_token(req)?,
            TokenType::Access,
            self.now_ms(),
        )?;
        crate::observability::note_user(claims.user_id);
        Ok(Bearer {
            user_id: claims.user_id,
            generation: claims.generation,
        })
    }

    /// The user behind the request's access token; 401 if there is none, it was deleted, or
    /// the token predates a password or username change.
    pub(crate) async fn caller(&self, req: &Request<P::Incoming>) -> Result<Caller, ApiError> {
        let bearer = self.bearer(req)?;
        let user = store::users::find_by_id(&self.db, bearer.user_id)
            .await?
            .ok_or(ApiError::Unauthorized("User not found."))?;
        current(&user, bearer.generation)?;
        Ok(Caller(user))
    }

    /// Like `caller`, and 403 unless the user is an admin.
    pub(crate) async fn admin(&self, req: &Request<P::Incoming>) -> Result<Admin, ApiError> {
        let Caller(user) = self.caller(req).await?;
        if !user.is_admin {
            return Err(ApiError::Forbidden(
                "You do not have permission to perform this action.",
            ));
        }
        Ok(Admin(user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    #[test]
    fn the_cookie_authorizes_reads_only_and_the_header_wins() {
        let get = Request::new(Method::Get, "/x").with_header("cookie", "a=b; st_access=tok");
        assert_eq!(access_token(&get).unwrap(), "tok");
        let post = Request::new(Method::Post, "/x").with_header("cookie", "st_access=tok");
        assert!(access_token(&post).is_err());
        let both = Request::new(Method::Get, "/x")
            .with_header("cookie", "st_access=tok")
            .with_header("authorization", "Bearer hdr");
        assert_eq!(access_token(&both).unwrap(), "hdr");
        let other = Request::new(Method::Get, "/x").with_header("cookie", "xst_access=tok");
        assert!(access_token(&other).is_err());
    }
}
