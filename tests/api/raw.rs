//! HTTP/1.1 written by hand over a TCP socket, for what ureq hides or cannot do: a body still
//! being written when the server refuses it (ureq would fail on the broken pipe instead of showing
//! the status), a chunked body that never ends, a body that trickles in a byte at a time, and what
//! a HEAD answer really carries on the wire.
//!
//! Local workerd (wrangler dev) holds back a Worker's answer until the request body has arrived
//! whole, unless the Worker read it or cancelled it (`request.body.cancel()`); so an answer to a
//! body that never arrives whole shows that the Worker refused it without waiting for it.

use crate::client::{env, Reply};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// How long a test waits for an answer that must not depend on the rest of the body.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

pub enum Body {
    Empty,
    /// `Content-Length` and these bytes, written while the answer is read.
    Whole(Vec<u8>),
    /// `Transfer-Encoding: chunked`: each piece is one chunk, written while the answer is read.
    /// Without `end`, the closing chunk never comes: only a server that counts the body as it
    /// arrives can answer.
    Chunked {
        pieces: Box<dyn Iterator<Item = Vec<u8>> + Send>,
        end: bool,
    },
    /// `Content-Length: declared`, then `head` at once, then one more byte every `every` until
    /// the server answers (or `declared` is reached): a body that takes hours to arrive.
    Trickle {
        declared: usize,
        head: Vec<u8>,
        every: Duration,
    },
}

/// Sends one request on a new connection (`Connection: close`) and reads the answer.
pub fn exchange(method: &str, path: &str, headers: &[(&str, &str)], body: Body) -> Reply {
    exchange_within(method, path, headers, body, ANSWER_WITHIN)
}

/// [`exchange`], waiting up to `within` for the answer (an upload the server works on for long).
pub fn exchange_within(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Body,
    within: Duration,
) -> Reply {
    let base = env("STORAGETIERS_URL");
    let host = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut stream = TcpStream::connect(&host).unwrap_or_else(|e| panic!("connect {host}: {e}"));
    stream.set_read_timeout(Some(within)).unwrap();

    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match &body {
        Body::Empty => {}
        Body::Whole(bytes) => head.push_str(&format!("Content-Length: {}\r\n", bytes.len())),
        Body::Chunked { .. } => head.push_str("Transfer-Encoding: chunked\r\n"),
        Body::Trickle { declared, .. } => head.push_str(&format!("Content-Length: {declared}\r\n")),
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();

    // The body goes out from another thread so that an answer sent early is read at once. Write
    // errors are expected: a server that refuses a body closes the connection under the writer.
    let mut writer = stream.try_clone().unwrap();
    let sending = std::thread::spawn(move || -> std::io::Result<()> {
        match body {
            Body::Empty => Ok(()),
            Body::Whole(bytes) => writer.write_all(&bytes),
            Body::Chunked { pieces, end } => {
                for piece in pieces {
                    writer.write_all(format!("{:x}\r\n", piece.len()).as_bytes())?;
                    writer.write_all(&piece)?;
                    writer.write_all(b"\r\n")?;
                }
                if end {
                    writer.write_all(b"0\r\n\r\n")?;
                }
                Ok(())
            }
            Body::Trickle {
                declared,
                head,
                every,
            } => {
                writer.write_all(&head)?;
                for _ in head.len()..declared {
                    std::thread::sleep(every);
                    writer.write_all(&[0xFF])?;
                }
                Ok(())
            }
        }
    });

    let reply = read_reply(&mut stream, method, path, within);
    let _ = stream.shutdown(Shutdown::Both);
    let _ = sending.join();
    reply
}

fn read_reply(stream: &mut TcpStream, method: &str, path: &str, within: Duration) -> Reply {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(at) = find(&buf, b"\r\n\r\n") {
            break at;
        }
        let mut chunk = [0u8; 16 * 1024];
        match stream.read(&mut chunk) {
            Ok(0) => panic!(
                "{method} {path}: connection closed before an answer: {}",
                String::from_utf8_lossy(&buf)
            ),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => panic!(
                "{method} {path}: no answer within {within:?} (the Worker must refuse without waiting for the body: on workerd, cancel the unread request body)"
            ),
            Err(e) => panic!("{method} {path}: {e}"),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("{method} {path}: not an HTTP answer: {head}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut rest = buf[head_end + 4..].to_vec();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let body = if method == "HEAD" {
        // Whatever arrives before the server closes: a HEAD answer must carry nothing.
        read_to_close(stream, &mut rest);
        rest
    } else if let Some(length) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        while rest.len() < length && read_more(stream, &mut rest) {}
        rest.truncate(length);
        rest
    } else if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        read_to_close(stream, &mut rest);
        dechunk(&rest)
    } else {
        read_to_close(stream, &mut rest);
        rest
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// Reads more into `buf`; false at the end of the stream (or on a timeout or reset).
fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 16 * 1024];
    match stream.read(&mut chunk) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

fn read_to_close(stream: &mut TcpStream, buf: &mut Vec<u8>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    while read_more(stream, buf) {}
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = find(data, b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        data = &data[line_end + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
