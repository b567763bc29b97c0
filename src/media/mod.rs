//! Pictures as stored objects: the key scheme (R2 keys, cache keys, ETags, URLs) and the
//! renditions (what an upload writes, how a rendition is served, lazy thumbnails, removal).

pub mod keys;
pub mod renditions;
pub mod upload;
