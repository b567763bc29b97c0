//! Run first and alone by `scripts/test`, against a `wrangler dev` that has not issued a single
//! token yet: its isolate's first token checks are these (issue 10: they answered 500 until
//! someone had logged in there). Nothing here logs in; the tokens are signed with the run's secret.

use crate::client::{Client, Tokens};
use crate::jwt::{claims, minted, now, signed, Algorithm};

/// The admin that `scripts/test` makes with `scripts/admin` is the first row of `users`.
const FIRST_USER_ID: i64 = 1;

#[test]
fn a_fresh_isolate_checks_tokens_before_anyone_logs_in_with_200_or_401_never_500() {
    let client = Client::from_env();
    let valid = minted("access", FIRST_USER_ID);
    let forged = signed(
        &claims("access", FIRST_USER_ID, now() + 600),
        Algorithm::HS256,
        "a-secret-that-is-not-the-one-of-this-run",
    );
    let refresh_as_access = minted("refresh", FIRST_USER_ID);
    let cases = [
        ("valid access token", &valid, 200),
        ("forged access token", &forged, 401),
        ("refresh token as access token", &refresh_as_access, 401),
        ("valid access token again", &valid, 200),
    ];
    // Every answer is collected first, so a failure shows the whole sequence.
    let answers: Vec<(&str, u16, String)> = cases
        .iter()
        .map(|(case, token, _)| {
            let reply = client.get("/api/pictures", Some(token));
            (*case, reply.status, reply.text())
        })
        .collect();
    let expected: Vec<(&str, u16)> = cases.iter().map(|(case, _, s)| (*case, *s)).collect();
    let got: Vec<(&str, u16)> = answers.iter().map(|(case, s, _)| (*case, *s)).collect();
    assert_eq!(got, expected, "answers: {answers:#?}");

    // Last, since a refresh that succeeds issues tokens, which is not what this test is about.
    let refreshed = client.refresh(&minted("refresh", FIRST_USER_ID));
    assert!(
        [200, 401].contains(&refreshed.status),
        "refresh: {}: {}",
        refreshed.status,
        refreshed.text()
    );
    if refreshed.status == 200 {
        refreshed.parse::<Tokens>();
    }
}

/// A panic aborts the wasm instance where it stands: no destructor runs, so the request's memory
/// reservation and its place among the requests in flight are never given back. The Worker's
/// entry (src/entry.mjs) and the glue's reset start a new instance for the next request; a
/// reused one would count them forever (and refuse uploads once enough had leaked). Run with the
/// cold start tests, alone: the panic fails every request in flight in the isolate.
#[test]
fn after_a_panic_the_next_request_gets_a_new_instance_with_nothing_left_reserved() {
    let client = Client::from_env();
    let valid = minted("access", FIRST_USER_ID);
    let panicked = client.call("POST", "/__test/panic", None, &[]);
    assert_eq!(
        panicked.status,
        500,
        "the panicking request: {}",
        panicked.text()
    );
    let answers: Vec<u16> = (0..3)
        .map(|_| client.get("/api/pictures", Some(&valid)).status)
        .collect();
    assert_eq!(answers, [200, 200, 200], "reads after the panic");
    // The admin's gauge: this request is the only one in flight, and nothing is reserved.
    let health = client.get("/api/health", Some(&valid));
    assert_eq!(health.status, 200, "{}", health.text());
    let isolate = &health.json()["isolate"];
    assert_eq!(
        (
            isolate["requests_in_flight"].as_u64(),
            isolate["memory_reserved_bytes"].as_u64()
        ),
        (Some(1), Some(0)),
        "the gauge after the panic: {isolate}"
    );
}
