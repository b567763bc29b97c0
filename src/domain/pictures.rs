//! Pictures: the name rule and the picture record.

use super::ids::PictureId;
use super::{names, Invalid};

pub const MAX_PICTURE_NAME_CHARS: usize = 100;

/// A picture's name: a display name (see `names`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PictureName(String);

impl PictureName {
    pub fn parse(name: &str) -> Result<Self, Invalid> {
        names::check(name, MAX_PICTURE_NAME_CHARS)?;
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stored picture.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    pub id: PictureId,
    pub owner_id: i64,
    pub name: String,
    pub content_type: String,
    pub width: i64,
    pub height: i64,
    pub size: i64,
    pub created_at: i64,
}
