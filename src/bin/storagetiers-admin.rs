//! Operator commands that the Worker's own rules must govern, run natively: `scripts/admin`
//! calls this to validate a new user and print the SQL that `wrangler d1 execute` runs, so the
//! username, password and hash rules live only in the Rust code.
//!
//! Usage: storagetiers-admin create-user <username> [--tier <name>] [--admin]
//! The password is read from standard input (one line). Prints one SQL statement.

use std::io::Read;
use std::process::ExitCode;
use storagetiers::domain::users::{Password, Username};
use storagetiers::passwords;
use storagetiers::ports::RustKdf;
use storagetiers::store;

const USAGE: &str = "usage: storagetiers-admin create-user <username> [--tier <name>] [--admin]";

#[derive(Debug, PartialEq)]
struct CreateUser {
    username: Username,
    /// `None`: the tier flagged as the default, whatever its name.
    tier: Option<String>,
    admin: bool,
}

fn parse_args(args: &[String]) -> Result<CreateUser, String> {
    let (command, rest) = args.split_first().ok_or(USAGE)?;
    if command != "create-user" {
        return Err(USAGE.into());
    }
    let mut username = None;
    let mut tier = None;
    let mut admin = false;
    let mut rest = rest.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--tier" => tier = Some(rest.next().ok_or("--tier needs a tier name")?.clone()),
            "--admin" => admin = true,
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
    Ok(CreateUser {
        username: username.ok_or(USAGE)?,
        tier,
        admin,
    })
}

/// The service's own user insert (`store::users`), as SQL text: nothing is inserted when the
/// tier does not exist, and `RETURNING` lets the caller see that.
fn insert_user_sql(user: &CreateUser, password_hash: &str, now_ms: i64) -> Result<String, String> {
    store::users::insert_statement(
        user.username.as_str(),
        password_hash,
        user.tier.as_deref(),
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
    insert_user_sql(&user, &hash, now_ms()?)
}

fn main() -> ExitCode {
    match run() {
        Ok(sql) => {
            println!("{sql}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
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
            (parsed.tier.as_deref(), parsed.admin),
            (Some("Premium"), true)
        );
        assert!(parse_args(&args(&["delete-user", "bob"])).is_err());
        assert!(parse_args(&args(&["create-user"])).is_err());
        assert!(parse_args(&args(&["create-user", "a", "b"])).is_err());
    }

    #[test]
    fn the_sql_quotes_every_value_and_refuses_nul() {
        let user = parse_args(&args(&["create-user", "o'brien", "--tier", "It's"])).unwrap_err();
        assert!(
            user.contains("username"),
            "an apostrophe is not a username character"
        );
        let user = parse_args(&args(&["create-user", "bob", "--tier", "It's"])).unwrap();
        let sql = insert_user_sql(&user, "pbkdf2_sha256$1$s$h", 0).unwrap();
        assert!(sql.contains("WHERE name = 'It''s'"), "{sql}");
        assert!(sql.contains("SELECT 'bob', 'pbkdf2_sha256$1$s$h'"), "{sql}");
        let nul = parse_args(&args(&["create-user", "bob", "--tier", "a\0b"])).unwrap();
        assert!(insert_user_sql(&nul, "h", 0).is_err());
    }

    #[test]
    fn without_a_tier_the_user_gets_the_tier_flagged_as_default_whatever_its_name() {
        let user = parse_args(&args(&["create-user", "bob"])).unwrap();
        assert_eq!(user.tier, None);
        let sql = insert_user_sql(&user, "pbkdf2_sha256$1$s$h", 0).unwrap();
        assert!(sql.contains("WHERE is_default = 1"), "{sql}");
        assert!(!sql.contains("Basic"), "{sql}");
    }
}
