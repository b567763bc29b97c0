//! User accounts: the username and password rules, the user with their tier, and the create and
//! patch requests an admin makes.

use super::tiers::{Tier, TierName};
use super::Invalid;
use unicode_normalization::UnicodeNormalization;

pub const MAX_USERNAME_CHARS: usize = 150;
pub const MIN_PASSWORD_CHARS: usize = 8;
/// PBKDF2 hashes whatever it is given; an unbounded password would cost unbounded CPU.
pub const MAX_PASSWORD_CHARS: usize = 4096;

/// A username as Django allows it: NFKC-normalised (Django's `normalize_username`, so a
/// full-width look-alike is the same name), then 1..=150 of letters, digits and `@.+-_`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(name: &str) -> Result<Self, Invalid> {
        if name.is_empty() {
            return Err("This field may not be blank.".into());
        }
        // Checked before normalising, so a huge input costs nothing.
        if name.chars().count() > MAX_USERNAME_CHARS {
            return Err(format!(
                "Ensure this field has no more than {MAX_USERNAME_CHARS} characters."
            )
            .into());
        }
        let name: String = name.nfkc().collect();
        if name.chars().count() > MAX_USERNAME_CHARS {
            return Err(format!(
                "Ensure this field has no more than {MAX_USERNAME_CHARS} characters."
            )
            .into());
        }
        if !name
            .chars()
            .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
        {
            return Err("Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.".into());
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 8..=4096 characters.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn parse(password: &str) -> Result<Self, Invalid> {
        let count = password.chars().count();
        if count < MIN_PASSWORD_CHARS {
            return Err(
                format!("Ensure this field has at least {MIN_PASSWORD_CHARS} characters.").into(),
            );
        }
        if count > MAX_PASSWORD_CHARS {
            return Err(format!(
                "Ensure this field has no more than {MAX_PASSWORD_CHARS} characters."
            )
            .into());
        }
        Ok(Self(password.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub is_admin: bool,
    /// Raised whenever the password or username changes: tokens carry the value they were issued
    /// under and stop working once it moves on.
    pub token_generation: i64,
    pub tier: Tier,
}

/// A user to create: every field known (the tier by name, resolved by the store; `None` for the
/// default tier).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Username,
    pub password: Password,
    pub tier: Option<TierName>,
    pub is_admin: bool,
}

/// Changes to a user: only the fields given.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub username: Option<Username>,
    pub password: Option<Password>,
    pub tier: Option<TierName>,
    pub is_admin: Option<bool>,
}

/// When a patch ends the tokens issued before it (by raising the user's token generation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndsTokens {
    Never,
    /// A new password: always, so two resets at once both count.
    Always,
    /// A new username: only when it differs from the current one, which only the write itself
    /// knows for sure (a concurrent rename).
    IfRenamed,
}

/// A patch as the store writes it: the password replaced by its hash, and whether it ends the
/// user's tokens.
#[derive(Debug, Clone)]
pub struct UserChanges {
    pub username: Option<Username>,
    pub password_hash: Option<String>,
    pub tier: Option<TierName>,
    pub is_admin: Option<bool>,
    pub ends_tokens: EndsTokens,
}

impl UserPatch {
    /// The patch to write, with `password_hash` the hash of its new password (if it has one).
    /// The one place of the rule that a new password or username ends every older token.
    pub fn apply(self, password_hash: Option<String>) -> UserChanges {
        let ends_tokens = match (&password_hash, &self.username) {
            (Some(_), _) => EndsTokens::Always,
            (None, Some(_)) => EndsTokens::IfRenamed,
            (None, None) => EndsTokens::Never,
        };
        UserChanges {
            username: self.username,
            password_hash,
            tier: self.tier,
            is_admin: self.is_admin,
            ends_tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_djangos_rule() {
        assert!(Username::parse("alice.b+c-d_e@x").is_ok());
        assert!(Username::parse("").is_err());
        assert!(Username::parse("has space").is_err());
        assert!(Username::parse("semi;colon").is_err());
        assert!(Username::parse(&"a".repeat(151)).is_err());
        assert!(Username::parse(&"a".repeat(150)).is_ok());
    }

    #[test]
    fn usernames_are_nfkc_normalised_so_look_alikes_are_the_same_name() {
        // Full-width "ａｌｉｃｅ" is "alice" after NFKC, as Django's normalize_username makes it.
        assert_eq!(Username::parse("ａｌｉｃｅ").unwrap().as_str(), "alice");
        assert_eq!(Username::parse("ﬁne").unwrap().as_str(), "fine");
    }

    #[test]
    fn a_new_password_always_ends_old_tokens_and_a_new_username_only_if_it_differs() {
        let rename = UserPatch {
            username: Some(Username::parse("bob").unwrap()),
            ..UserPatch::default()
        };
        assert_eq!(
            rename.clone().apply(None).ends_tokens,
            EndsTokens::IfRenamed
        );
        assert_eq!(
            rename.apply(Some("hash".into())).ends_tokens,
            EndsTokens::Always
        );
        let promote = UserPatch {
            is_admin: Some(true),
            ..UserPatch::default()
        };
        assert_eq!(promote.apply(None).ends_tokens, EndsTokens::Never);
    }

    #[test]
    fn passwords_are_8_to_4096_characters() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("eight ch").is_ok());
        assert!(Password::parse(&"p".repeat(4097)).is_err());
        assert_eq!(
            format!("{:?}", Password::parse("secret password").unwrap()),
            "Password(..)"
        );
    }
}
