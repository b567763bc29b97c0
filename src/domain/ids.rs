//! Identifiers that appear in URLs: picture ids and link ids are random UUIDv4s, written in
//! their hyphenated lower-case form. Anything else names nothing.

use std::fmt;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(uuid::Uuid);

        impl $name {
            pub fn new_random() -> Self {
                Self(uuid::Uuid::new_v4())
            }

            /// `None` for anything that is not a UUID: such a path names nothing (a 404).
            pub fn parse(s: &str) -> Option<Self> {
                uuid::Uuid::try_parse(s).ok().map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(
    /// A picture id.
    PictureId
);
uuid_id!(
    /// An expiring link id.
    LinkId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_ids_name_nothing_and_ids_print_hyphenated() {
        assert!(PictureId::parse("123").is_none());
        let id = PictureId::new_random();
        assert_eq!(PictureId::parse(&id.to_string()), Some(id));
        let upper = id.to_string().to_uppercase();
        assert_eq!(
            PictureId::parse(&upper).map(|i| i.to_string()),
            Some(id.to_string())
        );
        assert!(LinkId::parse("not-a-link").is_none());
    }
}
