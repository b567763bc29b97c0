//! Upload bodies that must be refused before (or while) they are read: no token, a declared
//! length over `MAX_UPLOAD_BYTES`, and a chunked body that grows past it. Sent by hand (see
//! `raw`), since the server answers while the body is still on its way.

use crate::client::{multipart, new_user, Client, Counts, Part, BOUNDARY};
use crate::pictures::png_with_alpha;
use crate::raw::{self, Body};

/// Over the 20 MiB `MAX_UPLOAD_BYTES` of wrangler.toml, with room for any multipart allowance.
const TOO_BIG: usize = 21 * 1024 * 1024;
const PIECE: usize = 64 * 1024;

fn headers(token: Option<&str>) -> Vec<(&'static str, String)> {
    let mut headers = vec![(
        "content-type",
        format!("multipart/form-data; boundary={BOUNDARY}"),
    )];
    if let Some(token) = token {
        headers.push(("authorization", format!("Bearer {token}")));
    }
    headers
}

fn post(token: Option<&str>, body: Body) -> crate::client::Reply {
    let headers = headers(token);
    let borrowed: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    raw::exchange("POST", "/api/pictures", &borrowed, body)
}

/// The start of a multipart upload of an `img` of `TOO_BIG` bytes: the parts' headers and the
/// first piece of the file. A server that waited for the rest would never answer.
fn declared_but_unsent() -> Body {
    let head = b"--"
        .iter()
        .chain(BOUNDARY.as_bytes())
        .copied()
        .collect::<Vec<u8>>();
    let mut sent = head.clone();
    sent.extend_from_slice(b"\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nbig\r\n");
    sent.extend_from_slice(&head);
    sent.extend_from_slice(
        b"\r\nContent-Disposition: form-data; name=\"img\"; filename=\"big.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n",
    );
    sent.resize(sent.len() + PIECE, 0xFF);
    Body::Partial {
        declared: TOO_BIG + 1024,
        sent,
    }
}

/// A multipart upload whose `img` is `size` bytes of junk, as a stream of chunks that never
/// ends: a server that waited for the end of the body would never answer.
fn chunked_junk(size: usize) -> Body {
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
    let pieces = size.div_ceil(PIECE);
    Body::Chunked {
        pieces: Box::new(
            std::iter::once(head)
                .chain(std::iter::repeat_n(vec![0xFF; PIECE], pieces))
                .chain(std::iter::once(tail)),
        ),
        end: false,
    }
}

#[test]
fn an_upload_without_a_token_is_401_before_its_body_is_read() {
    let declared = post(None, declared_but_unsent());
    assert_eq!(declared.status, 401, "{}", declared.text());
    declared.detail();
    let chunked = post(None, chunked_junk(TOO_BIG));
    assert_eq!(chunked.status, 401, "{}", chunked.text());
}

#[test]
fn a_declared_length_over_the_limit_is_413_before_the_body_is_read() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    let reply = post(Some(&user.access), declared_but_unsent());
    assert_eq!(reply.status, 413, "{}", reply.text());
    reply.detail();
    assert_eq!(client.counts(&user.username), Counts::NOTHING);
}

#[test]
fn a_chunked_upload_is_413_once_it_passes_the_limit_and_stores_nothing() {
    let client = Client::from_env();
    let user = new_user(&client, "Basic");
    let reply = post(Some(&user.access), chunked_junk(TOO_BIG));
    assert_eq!(reply.status, 413, "{}", reply.text());
    reply.detail();
    assert_eq!(client.counts(&user.username), Counts::NOTHING);

    // The control: a chunked upload under the limit is taken like any other.
    let small = multipart(&[
        Part::Text("name", "small".into()),
        Part::File("img", "small.png", "image/png", png_with_alpha(8, 8)),
    ]);
    let accepted = post(
        Some(&user.access),
        Body::Chunked {
            pieces: Box::new(
                small
                    .chunks(100)
                    .map(<[u8]>::to_vec)
                    .collect::<Vec<_>>()
                    .into_iter(),
            ),
            end: true,
        },
    );
    assert_eq!(accepted.status, 201, "{}", accepted.text());
    assert_eq!(client.counts(&user.username).pictures, 1);
}
