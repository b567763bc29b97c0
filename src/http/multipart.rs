//! `multipart/form-data` bodies (RFC 7578), parsed as they arrive: the parser keeps at most one
//! chunk and one part's header block, never the body, and finds delimiters with a linear-time
//! substring search, so a body of a million empty parts or of a pathological boundary costs
//! neither memory nor quadratic CPU.

use memchr::memmem::Finder;

/// The most parts a form may have: an upload needs two (`name`, `img`).
pub const MAX_PARTS: u32 = 32;
/// The most bytes one part's header block may have.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;

/// What a part says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartHeader {
    pub name: String,
    /// `Some` for a file part (its filename, possibly empty).
    pub filename: Option<String>,
}

/// One step through a form.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A part begins; its data follows.
    Part(PartHeader),
    /// The next bytes of the current part's data (a part's data may come in many pieces).
    Data(&'a [u8]),
    /// The current part's data is complete.
    PartEnd,
}

/// Why a body is not a usable form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("Expected a multipart/form-data body.")]
    Malformed,
    #[error("The form has more than {MAX_PARTS} fields.")]
    TooManyParts,
    #[error("A form field's headers are longer than {MAX_HEADER_BYTES} bytes.")]
    HeaderTooLong,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first delimiter.
    Preamble,
    /// Just after a delimiter: `--` ends the form, CRLF starts a part.
    AfterDelimiter,
    Headers,
    Data,
    /// After the closing delimiter: ignored.
    Done,
}

/// A push parser: `push` the next chunk, then take `next` events until it returns `None`.
pub struct Parser {
    /// `\r\n--boundary`: a body's first delimiter has no CRLF before it, so the buffer starts
    /// with one.
    finder: Finder<'static>,
    header_end: Finder<'static>,
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed.
    pos: usize,
    state: State,
    parts: u32,
}

impl Parser {
    /// A parser for `boundary` that accepts chunks of at most `max_chunk` bytes; it allocates
    /// its one buffer here, `max_chunk + MAX_HEADER_BYTES + 80` bytes (see [`Parser::bytes`]).
    pub fn new(boundary: &str, max_chunk: usize) -> Self {
        let delimiter = format!("\r\n--{boundary}").into_bytes();
        let mut buf = Vec::with_capacity(Self::bytes(max_chunk) as usize);
        buf.extend_from_slice(b"\r\n");
        Self {
            finder: Finder::new(&delimiter).into_owned(),
            header_end: Finder::new(b"\r\n\r\n").into_owned(),
            buf,
            pos: 0,
            state: State::Preamble,
            parts: 0,
        }
    }

    /// The heap a parser for chunks of `max_chunk` bytes holds (boundaries are at most 70 bytes).
    pub fn bytes(max_chunk: usize) -> u64 {
        (max_chunk + MAX_HEADER_BYTES + 80) as u64
    }

    /// Takes the next chunk (at most `max_chunk` bytes). Call [`Parser::next_event`] until it returns
    /// `None` before pushing again.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.drain(..self.pos);
        self.pos = 0;
        // The buffer was sized for this: what is kept between chunks is bounded below.
        self.buf.extend_from_slice(chunk);
    }

    /// Whether the form ended with its closing delimiter.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The next event from what has been pushed, or `None` when more bytes are needed (or the
    /// form is done).
    pub fn next_event(&mut self) -> Result<Option<Event<'_>>, FormError> {
        let delimiter_len = self.finder.needle().len();
        loop {
            let rest = &self.buf[self.pos..];
            match self.state {
                State::Done => {
                    self.pos = self.buf.len();
                    return Ok(None);
                }
                State::Preamble => match self.finder.find(rest) {
                    Some(i) => {
                        self.pos += i + delimiter_len;
                        self.state = State::AfterDelimiter;
                    }
                    None => {
                        // Keep only what may be the start of a delimiter.
                        self.pos += rest.len().saturating_sub(delimiter_len - 1);
                        return Ok(None);
                    }
                },
                State::AfterDelimiter => {
                    if rest.len() < 2 {
                        return Ok(None);
                    }
                    if rest.starts_with(b"--") {
                        self.state = State::Done;
                    } else if rest.starts_with(b"\r\n") {
                        self.pos += 2;
                        self.state = State::Headers;
                    } else {
                        return Err(FormError::Malformed);
                    }
                }
                State::Headers => {
                    // A part without headers has its blank line at once.
                    let (block, skip) = if rest.starts_with(b"\r\n") {
                        (0, 2)
                    } else {
                        match self.header_end.find(rest) {
                            Some(end) => (end, end + 4),
                            None if rest.len() > MAX_HEADER_BYTES => {
                                return Err(FormError::HeaderTooLong)
                            }
                            None => return Ok(None),
                        }
                    };
                    if block > MAX_HEADER_BYTES {
                        return Err(FormError::HeaderTooLong);
                    }
                    let headers =
                        std::str::from_utf8(&rest[..block]).map_err(|_| FormError::Malformed)?;
                    let header = disposition(headers).ok_or(FormError::Malformed)?;
                    self.parts += 1;
                    if self.parts > MAX_PARTS {
                        return Err(FormError::TooManyParts);
                    }
                    self.pos += skip;
                    self.state = State::Data;
                    return Ok(Some(Event::Part(header)));
                }
                State::Data => {
                    let start = self.pos;
                    return Ok(match self.finder.find(rest) {
                        Some(0) => {
                            self.pos += delimiter_len;
                            self.state = State::AfterDelimiter;
                            Some(Event::PartEnd)
                        }
                        // The data before the delimiter first; the delimiter on the next call.
                        Some(i) => {
                            self.pos += i;
                            Some(Event::Data(&self.buf[start..start + i]))
                        }
                        None => {
                            let safe = rest.len().saturating_sub(delimiter_len - 1);
                            if safe == 0 {
                                None
                            } else {
                                self.pos += safe;
                                Some(Event::Data(&self.buf[start..start + safe]))
                            }
                        }
                    });
                }
            }
        }
    }
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

/// `name` and `filename` of a part's `Content-Disposition: form-data` header.
fn disposition(headers: &str) -> Option<PartHeader> {
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
    Some(PartHeader {
        name: name?,
        filename,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nHoliday\r\n--XyZ\r\nContent-Disposition: form-data; name=\"img\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--X\r\n--XyZ--\r\n";

    /// A part as the tests compare it: header and its data joined.
    type Parsed = (String, Option<String>, Vec<u8>);

    /// Parses `body` fed in chunks of `chunk` bytes.
    fn parse(body: &[u8], boundary: &str, chunk: usize) -> Result<Vec<Parsed>, FormError> {
        let mut parser = Parser::new(boundary, chunk);
        let mut parts: Vec<Parsed> = Vec::new();
        for piece in body.chunks(chunk) {
            parser.push(piece);
            while let Some(event) = parser.next_event()? {
                match event {
                    Event::Part(h) => parts.push((h.name, h.filename, Vec::new())),
                    Event::Data(d) => parts.last_mut().unwrap().2.extend_from_slice(d),
                    Event::PartEnd => {}
                }
            }
        }
        if parser.is_done() {
            Ok(parts)
        } else {
            Err(FormError::Malformed)
        }
    }

    #[test]
    fn parts_keep_their_names_filenames_and_exact_bytes_whatever_the_chunking() {
        for chunk in [1, 2, 3, 7, 16, 64, BODY.len()] {
            let parts = parse(BODY, "XyZ", chunk).unwrap();
            assert_eq!(
                parts,
                vec![
                    ("name".into(), None, b"Holiday".to_vec()),
                    (
                        "img".into(),
                        Some("a.png".into()),
                        b"\x89PNG\r\n--X".to_vec()
                    ),
                ],
                "chunks of {chunk}"
            );
        }
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
        assert!(parse(&BODY[..BODY.len() - 12], "XyZ", 5).is_err());
        assert!(parse(b"{\"json\": true}", "XyZ", 5).is_err());
        assert!(parse(b"--XyZ\r\nNo-Disposition: x\r\n\r\nd\r\n--XyZ--", "XyZ", 5).is_err());
    }

    #[test]
    fn a_flood_of_empty_parts_is_refused_after_the_limit_without_collecting_them() {
        let mut body = Vec::new();
        for _ in 0..500_000 {
            body.extend_from_slice(
                b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n\r\n",
            );
        }
        body.extend_from_slice(b"--b--");
        assert_eq!(parse(&body, "b", 64 * 1024), Err(FormError::TooManyParts));
    }

    #[test]
    fn an_endless_header_block_is_refused() {
        let mut body = b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\nX: ".to_vec();
        body.extend(std::iter::repeat_n(b'a', 100_000));
        assert_eq!(parse(&body, "b", 4096), Err(FormError::HeaderTooLong));
    }

    #[test]
    fn a_boundary_of_dashes_over_a_body_of_dashes_is_parsed_in_linear_time() {
        // The naive search compared the 74-byte delimiter at every offset: quadratic in the
        // delimiter length times the body. memmem is linear; 19 MB of dashes must take well
        // under a second even unoptimised (it is counted, not timed: the part's data comes out
        // whole and the form is unterminated).
        let boundary = "-".repeat(70);
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"img\"; filename=\"a\"\r\n\r\n"
        )
        .into_bytes();
        body.extend(std::iter::repeat_n(b'-', 19 * 1024 * 1024));
        let mut parser = Parser::new(&boundary, 64 * 1024);
        let mut data = 0usize;
        for piece in body.chunks(64 * 1024) {
            parser.push(piece);
            while let Some(event) = parser.next_event().unwrap() {
                if let Event::Data(d) = event {
                    data += d.len();
                }
            }
        }
        assert!(!parser.is_done());
        assert!(data >= 19 * 1024 * 1024 - 80);
    }

    #[test]
    fn the_buffer_never_grows_past_what_new_reserved() {
        let mut parser = Parser::new("XyZ", 16);
        let capacity = parser.buf.capacity();
        for piece in BODY.chunks(16) {
            parser.push(piece);
            while parser.next_event().unwrap().is_some() {}
        }
        assert_eq!(parser.buf.capacity(), capacity);
        assert!(capacity as u64 <= Parser::bytes(16));
    }
}
