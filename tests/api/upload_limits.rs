//! Upload bodies that must be refused: no token, a declared length over `MAX_UPLOAD_BYTES`, and a
//! chunked body that grows past it. Sent by hand (see `raw`), since the server answers while the
//! body is still on its way. Most bodies here never arrive whole, so an answer at all shows that
//! the server refused without waiting for the rest (and, on workerd, cancelled the body).

use crate::client::{multipart, new_user, Client, Counts, Part, Reply, BOUNDARY};
use crate::pictures::png_with_alpha;
use crate::raw::{self, Body};

/// Over the 20 MiB `MAX_UPLOAD_BYTES` of wrangler.toml, with room for any multipart allowance.
const TOO_BIG: usize = 21 * 1024 * 1024;
const PIECE: usize = 64 * 1024;

fn post(token: Option<&str>, body: Body) -> Reply {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", content_type.as_str())];
    headers.extend(auth.iter().map(|a| ("authorization", a.as_str())));
    raw::exchange("POST", "/api/pictures", &headers, body)
}

/// A multipart upload whose `img` is `size` bytes of junk, as a stream of chunks that never
/// ends: a server that waited for the end of the body would never answer.
fn endless_chunked_junk(size: usize) -> Body {
    let whole = multipart(&[
        Part::Text("name", "big".into()),
        Part::File("img", "big.jpg", "image/jpeg", vec![0xFF; PIECE]),
    ]);
    // Split around the one piece of junk, then repeat that piece until `size`.
    let at = whole
        .windows(PIECE)
        .position(|w| w.iter().all(|b| *b == 0xFF))
        .unwrap();
    let (head, tail) = (whole[..at].to_vec(), whole[at + PIECE..].to_vec());
    Body::Chunked {
        pieces: Box::new(
            std::iter::once(head)
                .chain(std::iter::repeat_n(vec![0xFF; PIECE], size.div_ceil(PIECE)))
                .chain(std::iter::once(tail)),
        ),
        end: false,
    }
}

/// The start of a multipart upload declared as `TOO_BIG` bytes, of which 64 KiB ever come.
fn declared_but_never_sent() -> Body {
    let mut sent = multipart(&[Part::Text("name", "big".into())]);
    sent.truncate(sent.len() - format!("--{BOUNDARY}--\r\n").len());
    sent.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"img\"; filename=\"big.jpg\"\r\n\
             Content-Type: image/jpeg\r\n\r\n"
        )
        .as_bytes(),
    );
    sent.resize(sent.len() + PIECE, 0xFF);
    Body::Partial {
        declared: TOO_BIG,
        sent,
    }
}

fn small_png_upload() -> Vec<u8> {
    multipart(&[
        Part::Text("name", "small".into()),
        Part::File("img", "small.png", "image/png", png_with_alpha(8, 8)),
    ])
}

#[test]
fn an_upload_without_a_token_is_401_before_its_body_arrives() {
    let declared = post(None, declared_but_never_sent());
    assert_eq!(declared.status, 401, "declared: {}", declared.text());
    declared.detail();
    // An endless chunked body without a token is not tested here: the Worker answers 401 and
    // cancels the unread body, and local workerd then closes the connection before the answer
    // reaches the client. Counting a chunked body is tested with a token below.
}

#[test]
fn a_declared_length_over_the_limit_is_413_before_the_body_arrives() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    let reply = post(Some(&user.access), declared_but_never_sent());
    assert_eq!(reply.status, 413, "{}", reply.text());
    reply.detail();
    assert_eq!(client.counts(&user.username), Counts::NOTHING);
}

#[test]
fn a_declared_length_over_the_limit_is_413_even_around_a_small_image() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    // A valid small PNG, padded by a text field past the limit: only the declared length (not
    // the image) is too big, so a server that parsed first would have stored the picture.
    let padded = multipart(&[
        Part::Text("name", "padded".into()),
        Part::Text("padding", "p".repeat(TOO_BIG)),
        Part::File("img", "small.png", "image/png", png_with_alpha(8, 8)),
    ]);
    let reply = post(Some(&user.access), Body::Whole(padded));
    assert_eq!(reply.status, 413, "{}", reply.text());
    reply.detail();
    assert_eq!(client.counts(&user.username), Counts::NOTHING);
}

#[test]
fn a_chunked_upload_is_413_once_it_passes_the_limit_and_stores_nothing() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    let reply = post(Some(&user.access), endless_chunked_junk(TOO_BIG));
    assert_eq!(reply.status, 413, "{}", reply.text());
    reply.detail();
    assert_eq!(client.counts(&user.username), Counts::NOTHING);

    // The control: a chunked upload under the limit is taken like any other.
    let small = small_png_upload();
    let pieces: Vec<Vec<u8>> = small.chunks(100).map(<[u8]>::to_vec).collect();
    let accepted = post(
        Some(&user.access),
        Body::Chunked {
            pieces: Box::new(pieces.into_iter()),
            end: true,
        },
    );
    assert_eq!(accepted.status, 201, "{}", accepted.text());
    assert_eq!(client.counts(&user.username).pictures, 1);
}
