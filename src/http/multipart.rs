//! `multipart/form-data` bodies (RFC 7578), parsed from bytes already counted against the upload
//! limit. Only what uploads need: each part's name, whether it is a file, and its bytes.

/// One part of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    pub name: String,
    /// `Some` for a file part (its filename, possibly empty).
    pub filename: Option<String>,
    pub data: &'a [u8],
}

/// The boundary of a `multipart/form-data` content type, if it is one.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let essence = params.next()?.trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|param| {
        let (key, value) = param.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim().trim_matches('"');
        (!value.is_empty() && value.len() <= 70).then(|| value.to_owned())
    })
}

/// The parts of `body`, or `None` when it is not a well-formed form with this boundary.
pub fn parse<'a>(body: &'a [u8], boundary: &str) -> Option<Vec<Part<'a>>> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut rest = body;
    // Anything before the first delimiter is a preamble.
    let start = find(rest, delimiter)?;
    rest = &rest[start + delimiter.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let header_end = find(rest, b"\r\n\r\n")?;
        let headers = std::str::from_utf8(&rest[..header_end]).ok()?;
        rest = &rest[header_end + 4..];
        let mut close = Vec::with_capacity(delimiter.len() + 2);
        close.extend_from_slice(b"\r\n");
        close.extend_from_slice(delimiter);
        let end = find(rest, &close)?;
        let data = &rest[..end];
        rest = &rest[end + close.len()..];
        let (name, filename) = disposition(headers)?;
        parts.push(Part {
            name,
            filename,
            data,
        });
    }
}

/// `name` and `filename` of a part's `Content-Disposition: form-data` header.
fn disposition(headers: &str) -> Option<(String, Option<String>)> {
    let line = headers.split("\r\n").find(|line| {
        line.split_once(':')
            .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("content-disposition"))
    })?;
    let (_, value) = line.split_once(':')?;
    let mut name = None;
    let mut filename = None;
    for param in value.split(';').skip(1) {
        let Some((key, raw)) = param.split_once('=') else {
            continue;
        };
        let raw = raw.trim();
        let unquoted = raw
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(raw)
            .to_owned();
        match key.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(unquoted),
            "filename" => filename = Some(unquoted),
            _ => {}
        }
    }
    Some((name?, filename))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nHoliday\r\n--XyZ\r\nContent-Disposition: form-data; name=\"img\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--X\r\n--XyZ--\r\n";

    #[test]
    fn parts_keep_their_names_filenames_and_exact_bytes() {
        let parts = parse(BODY, "XyZ").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (
                parts[0].name.as_str(),
                parts[0].filename.as_deref(),
                parts[0].data
            ),
            ("name", None, &b"Holiday"[..])
        );
        assert_eq!(
            (
                parts[1].name.as_str(),
                parts[1].filename.as_deref(),
                parts[1].data
            ),
            ("img", Some("a.png"), &b"\x89PNG\r\n--X"[..])
        );
    }

    #[test]
    fn the_boundary_comes_from_the_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=\"XyZ\"").as_deref(),
            Some("XyZ")
        );
        assert_eq!(
            boundary("multipart/form-data;boundary=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(boundary("application/json"), None);
        assert_eq!(boundary("multipart/form-data"), None);
    }

    #[test]
    fn truncated_or_foreign_bodies_are_not_forms() {
        assert!(parse(&BODY[..BODY.len() - 12], "XyZ").is_none());
        assert!(parse(b"{\"json\": true}", "XyZ").is_none());
        assert!(parse(b"--XyZ\r\nNo-Disposition: x\r\n\r\nd\r\n--XyZ--", "XyZ").is_none());
    }
}
