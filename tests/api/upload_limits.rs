//! Upload bodies that must be refused: no token, a declared length over `MAX_UPLOAD_BYTES`, and a
//! chunked body that grows past it. Sent by hand (see `raw`), since the server answers while the
//! body is still on its way. The Worker decides before it reads any of the body; local workerd
//! still delivers such an answer only once the client has sent what it declared, so the refused
//! bodies here are sent whole (or, chunked, counted past the limit by the Worker).

use crate::client::{multipart, new_user, Client, Counts, Part, Reply, BOUNDARY};
use crate::pictures::png_with_alpha;
use crate::raw::{self, Body};

/// Over the 100 MB `MAX_UPLOAD_BYTES` of wrangler.toml, with room for any multipart allowance.
const TOO_BIG: usize = 101 * 1024 * 1024;
const PIECE: usize = 64 * 1024;

fn post(token: Option<&str>, body: Body) -> Reply {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", content_type.as_str())];
    headers.extend(auth.iter().map(|a| ("authorization", a.as_str())));
    raw::exchange("POST", "/api/pictures", &headers, body)
}

/// A multipart upload whose `img` is a PNG signature and `size` bytes of junk, as a stream of
/// chunks that never ends: a server that waited for the end of the body would never answer.
/// (A PNG is decoded from one buffer, so the junk is counted, not refused at its first bytes.)
fn endless_chunked_junk(size: usize) -> Body {
    // A TIFF is held whole until its end (a streamed PNG or JPEG would be refused at its first
    // broken chunk or marker instead), so only the size limit can stop this one.
    let mut file = b"II*\0".to_vec();
    file.extend_from_slice(&[0xFF; PIECE]);
    let whole = multipart(&[
        Part::Text("name", "big".into()),
        Part::File("img", "big.tiff", "image/tiff", file),
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

fn small_png_upload() -> Vec<u8> {
    multipart(&[
        Part::Text("name", "small".into()),
        Part::File("img", "small.png", "image/png", png_with_alpha(8, 8)),
    ])
}

#[test]
fn an_upload_without_a_token_is_401_whatever_its_body() {
    let reply = post(None, Body::Whole(small_png_upload()));
    assert_eq!(reply.status, 401, "{}", reply.text());
    reply.detail();
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
