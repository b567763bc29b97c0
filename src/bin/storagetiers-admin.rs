//! Operator commands that the Worker's own rules must govern, run natively by `scripts/admin`:
//! creating a user in D1 without HTTP (the first admin has nobody to ask). The username,
//! password and hash rules are the Worker's own Rust code, so the CLI cannot accept what the API
//! would refuse; the insert goes to D1 through `wrangler d1 execute`, the only way to reach the
//! local D1 (a `wrangler dev` database) and the deployed one alike from outside a Worker.
//!
//! Usage: storagetiers-admin create-user <username> [--tier <name>] [--admin] [--remote]
//! The password is read from standard input (one line; scripts/admin prompts for it on a
//! terminal). The user goes into the local D1 (the one `make dev` uses, or $STORAGETIERS_PERSIST
//! when set) or, with --remote, the deployed one.

use std::io::Read;
use std::process::{Command, ExitCode, Stdio};
use storagetiers::domain::tiers::TierName;
use storagetiers::domain::users::{Password, Username};
use storagetiers::passwords;
use storagetiers::ports::RustKdf;
use storagetiers::store;

const USAGE: &str =
    "usage: scripts/admin create-user <username> [--tier <name>] [--admin] [--remote]";

#[derive(Debug, PartialEq)]
struct CreateUser {
    username: Username,
    /// `None`: the tier flagged as the default, whatever its name.
    tier: Option<TierName>,
    admin: bool,
    /// The deployed D1 rather than the local one.
    remote: bool,
}

fn parse_args(args: &[String]) -> Result<CreateUser, String> {
    let (command, rest) = args.split_first().ok_or(USAGE)?;
    if command != "create-user" {
        return Err(USAGE.into());
    }
    let mut username = None;
    let mut tier = None;
    let mut admin = false;
    let mut remote = false;
    let mut rest = rest.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--tier" => tier = Some(rest.next().ok_or("--tier needs a tier name")?.clone()),
            "--admin" => admin = true,
            "--remote" => remote = true,
            other if other.starts_with("--tier=") => {
                tier = Some(other["--tier=".len()..].to_owned())
            }
            other if other.starts_with("--") || username.is_some() => {
                return Err(format!("unexpected argument '{other}'\n{USAGE}"))
            }
            other => username = Some(Username::parse(other).map_err(|e| format!("username: {e}"))?),
        }
    }
    if tier.as_deref() == Some("") {
        return Err("--tier needs a tier name".into());
    }
    let tier = tier
        .map(|name| TierName::parse(&name).map_err(|e| format!("tier: {e}")))
        .transpose()?;
    Ok(CreateUser {
        username: username.ok_or(USAGE)?,
        tier,
        admin,
        remote,
    })
}

/// The service's own user insert (`store::users`), as SQL text: nothing is inserted when the
/// tier does not exist, and `RETURNING` lets the caller see that.
fn insert_user_sql(user: &CreateUser, password_hash: &str, now_ms: i64) -> Result<String, String> {
    store::users::insert_statement(
        user.username.as_str(),
        password_hash,
        user.tier.as_ref(),
        user.admin,
        now_ms,
    )
    .inline()
}

/// Milliseconds since the Unix epoch, as the service's clock counts them.
fn now_ms() -> Result<i64, String> {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| format!("the system clock is before 1970: {e}"))?;
    i64::try_from(elapsed.as_millis()).map_err(|e| e.to_string())
}

/// Runs a future that never waits (the Rust KDF computes in place).
fn run_now<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

/// Runs the insert with `wrangler d1 execute`; returns whether it succeeded and everything it
/// printed. Run from the checkout (scripts/admin is), where npx finds the pinned wrangler.
fn d1_execute(sql: &str, remote: bool) -> Result<(bool, String), String> {
    let mut command = Command::new("npx");
    command.env("WRANGLER_SEND_METRICS", "false");
    command.args(["--no-install", "--loglevel=error", "wrangler"]);
    command.args(["d1", "execute", "DB", "--json"]);
    if remote {
        command.arg("--remote");
    } else {
        command.arg("--local");
        if let Some(dir) = std::env::var_os("STORAGETIERS_PERSIST") {
            command.arg("--persist-to").arg(dir);
        }
    }
    let output = command
        .arg("--command")
        .arg(sql)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run wrangler (npx): {e}"))?;
    let printed = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((output.status.success(), printed))
}

/// How many rows `wrangler d1 execute --json` returned (the JSON array in what it printed).
fn returned_rows(printed: &str) -> Option<usize> {
    let json = printed.get(printed.find('[')?..=printed.rfind(']')?)?;
    let results: Vec<serde_json::Value> = serde_json::from_str(json).ok()?;
    Some(
        results
            .iter()
            .map(|r| r["results"].as_array().map_or(0, Vec::len))
            .sum(),
    )
}

/// What the operator reads once wrangler has run: the outcome, or what went wrong in our words.
fn outcome(user: &CreateUser, succeeded: bool, printed: &str) -> Result<String, String> {
    let printed = printed.trim();
    let tier = user.tier.as_ref().map_or("default", TierName::as_str);
    if !succeeded && printed.contains("UNIQUE constraint failed: users.username") {
        return Err(format!(
            "a user named '{}' already exists",
            user.username.as_str()
        ));
    }
    if !succeeded && printed.contains("no such table") {
        return Err(format!(
            "no schema yet: apply the migrations first\n{printed}"
        ));
    }
    if !succeeded {
        return Err(format!("wrangler d1 execute failed:\n{printed}"));
    }
    match returned_rows(printed) {
        Some(1) => Ok(format!(
            "created {}user '{}' (tier {tier}) in the {} D1",
            if user.admin { "admin " } else { "" },
            user.username.as_str(),
            if user.remote { "remote" } else { "local" },
        )),
        Some(0) => Err(format!("unknown tier '{tier}'")),
        _ => Err(format!("wrangler d1 execute said:\n{printed}")),
    }
}

fn run() -> Result<String, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let user = parse_args(&args)?;
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| format!("reading the password: {e}"))?;
    let line = input.strip_suffix('\n').unwrap_or(&input);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.contains('\n') {
        return Err("expected a single line on standard input".into());
    }
    let password = Password::parse(line).map_err(|e| format!("password: {e}"))?;
    let hash = run_now(passwords::hash(&RustKdf, password.expose())).map_err(|e| e.to_string())?;
    let sql = insert_user_sql(&user, &hash, now_ms()?)?;
    let (succeeded, printed) = d1_execute(&sql, user.remote)?;
    outcome(&user, succeeded, &printed)
}

fn main() -> ExitCode {
    match run() {
        Ok(done) => {
            eprintln!("{done}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_cli_applies_the_services_username_rule() {
        assert!(parse_args(&args(&["create-user", "bad name"])).is_err());
        let parsed = parse_args(&args(&[
            "create-user",
            "ａｌｉｃｅ",
            "--tier=Premium",
            "--admin",
        ]))
        .unwrap();
        assert_eq!(
            parsed.username.as_str(),
            "alice",
            "normalised like the API does"
        );
        assert_eq!(
            (
                parsed.tier.as_ref().map(TierName::as_str),
                parsed.admin,
                parsed.remote
            ),
            (Some("Premium"), true, false)
        );
        let remote = parse_args(&args(&["create-user", "bob", "--remote"])).unwrap();
        assert!(remote.remote);
        assert!(parse_args(&args(&["delete-user", "bob"])).is_err());
        assert!(parse_args(&args(&["create-user"])).is_err());
        assert!(parse_args(&args(&["create-user", "a", "b"])).is_err());
    }

    #[test]
    fn the_sql_quotes_every_value_and_a_tier_name_with_nul_is_refused() {
        let user = parse_args(&args(&["create-user", "o'brien", "--tier", "It's"])).unwrap_err();
        assert!(
            user.contains("username"),
            "an apostrophe is not a username character"
        );
        let user = parse_args(&args(&["create-user", "bob", "--tier", "It's"])).unwrap();
        let sql = insert_user_sql(&user, "pbkdf2_sha256$1$s$h", 0).unwrap();
        assert!(sql.contains("WHERE name = 'It''s'"), "{sql}");
        assert!(sql.contains("SELECT 'bob', 'pbkdf2_sha256$1$s$h'"), "{sql}");
        // A NUL cannot reach the SQL text: no tier name may hold one.
        let nul = parse_args(&args(&["create-user", "bob", "--tier", "a\0b"])).unwrap_err();
        assert!(nul.starts_with("tier: "), "{nul}");
    }

    #[test]
    fn without_a_tier_the_user_gets_the_tier_flagged_as_default_whatever_its_name() {
        let user = parse_args(&args(&["create-user", "bob"])).unwrap();
        assert_eq!(user.tier, None);
        let sql = insert_user_sql(&user, "pbkdf2_sha256$1$s$h", 0).unwrap();
        assert!(sql.contains("WHERE is_default = 1"), "{sql}");
        assert!(!sql.contains("Basic"), "{sql}");
    }

    #[test]
    fn wranglers_answer_is_read_as_the_operator_needs_it() {
        let user = parse_args(&args(&["create-user", "bob", "--tier", "Gold", "--admin"])).unwrap();
        let inserted = "[{\"results\":[{\"id\":7}],\"success\":true}]\n";
        assert_eq!(
            outcome(&user, true, inserted).unwrap(),
            "created admin user 'bob' (tier Gold) in the local D1"
        );
        let no_such_tier = "[{\"results\":[],\"success\":true}]";
        assert_eq!(
            outcome(&user, true, no_such_tier).unwrap_err(),
            "unknown tier 'Gold'"
        );
        let taken = "X [ERROR] UNIQUE constraint failed: users.username: SQLITE_CONSTRAINT";
        assert_eq!(
            outcome(&user, false, taken).unwrap_err(),
            "a user named 'bob' already exists"
        );
        assert!(outcome(&user, false, "no such table: users")
            .unwrap_err()
            .contains("apply the migrations first"));
        assert!(outcome(&user, true, "not json")
            .unwrap_err()
            .starts_with("wrangler d1 execute said"));
    }
}
