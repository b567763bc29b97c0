//! Operator commands run outside the Worker; for now, creating a user in D1.
//!
//! Usage: scripts/admin create-user <username> [--tier <name>] [--admin] [--remote]
//!
//! The password is read from standard input when it is not a terminal (one
//! line; a trailing newline is dropped), otherwise prompted for twice without
//! echo. The user goes into the local D1 (the one `make dev` uses, or
//! $STORAGETIERS_PERSIST when set) or, with --remote, the deployed one.

import { spawnSync } from "node:child_process";
import { pbkdf2Sync, randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

// Must match src/passwords.rs, which verifies these hashes.
const ITERATIONS = 100_000;
// Django's salt: alphanumerics, 22 of them for at least 128 bits of entropy
// (Django's salt_entropy = 128 gives ceil(128 / log2(62)) = 22).
const SALT_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SALT_LENGTH = 22;
const MIN_PASSWORD_CHARS = 8;
const DEFAULT_TIER = "Basic";

const USAGE = "usage: scripts/admin create-user <username> [--tier <name>] [--admin] [--remote]";

class UsageError extends Error {}

function fail(message) {
    process.stderr.write(`error: ${message}\n`);
    process.exit(1);
}

/** Django's `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`. */
export function hashPassword(password, salt = randomSalt(), iterations = ITERATIONS) {
    const key = pbkdf2Sync(Buffer.from(password, "utf8"), Buffer.from(salt, "utf8"), iterations, 32, "sha256");
    return `pbkdf2_sha256$${iterations}$${salt}$${key.toString("base64")}`;
}

function randomSalt() {
    let salt = "";
    for (let i = 0; i < SALT_LENGTH; i++) salt += SALT_CHARS[randomInt(SALT_CHARS.length)];
    return salt;
}

/** The same rule as `Username::parse` in src/users.rs (Django's). */
export function checkUsername(name) {
    const chars = [...name].length;
    if (chars < 1 || chars > 150) return "username must be 1 to 150 characters";
    if (!/^[\p{Alphabetic}\p{N}@.+\-_]+$/u.test(name))
        return "username may contain only letters, digits and @ . + - _";
    return null;
}

export function checkPassword(password) {
    if ([...password].length < MIN_PASSWORD_CHARS) return `password must be at least ${MIN_PASSWORD_CHARS} characters`;
    return null;
}

/** A SQL string literal: single quotes doubled; NUL cannot be passed safely, so refused. */
export function sqlString(value) {
    if (value.includes("\0")) throw new UsageError("values may not contain NUL characters");
    return `'${value.replaceAll("'", "''")}'`;
}

function parseArgs(argv) {
    const [command, ...rest] = argv;
    if (command !== "create-user") throw new UsageError(USAGE);
    const options = { username: undefined, tier: DEFAULT_TIER, admin: false, remote: false };
    for (let i = 0; i < rest.length; i++) {
        const arg = rest[i];
        if (arg === "--tier") {
            if (i + 1 >= rest.length) throw new UsageError("--tier needs a tier name");
            options.tier = rest[++i];
        } else if (arg.startsWith("--tier=")) {
            options.tier = arg.slice("--tier=".length);
        } else if (arg === "--admin") {
            options.admin = true;
        } else if (arg === "--remote") {
            options.remote = true;
        } else if (arg.startsWith("--") || options.username !== undefined) {
            throw new UsageError(`unexpected argument '${arg}'\n${USAGE}`);
        } else {
            options.username = arg;
        }
    }
    if (options.username === undefined) throw new UsageError(USAGE);
    if (options.tier === "") throw new UsageError("--tier needs a tier name");
    return options;
}

/** Reads one line from the terminal without echoing it. */
function promptHidden(prompt) {
    return new Promise((resolve, reject) => {
        const stdin = process.stdin;
        process.stderr.write(prompt);
        stdin.setRawMode(true);
        stdin.resume();
        stdin.setEncoding("utf8");
        let value = "";
        const finish = (error) => {
            stdin.setRawMode(false);
            stdin.pause();
            stdin.removeListener("data", onData);
            process.stderr.write("\n");
            error ? reject(error) : resolve(value);
        };
        const onData = (chunk) => {
            for (const ch of chunk) {
                if (ch === "\r" || ch === "\n") return finish();
                if (ch === "\u0003") return finish(new UsageError("cancelled"));
                if (ch === "\u0004" && value === "") return finish(new UsageError("cancelled"));
                if (ch === "\u007f" || ch === "\b") value = [...value].slice(0, -1).join("");
                else value += ch;
            }
        };
        stdin.on("data", onData);
    });
}

async function readPassword() {
    if (!process.stdin.isTTY) {
        const input = readFileSync(0, "utf8");
        const line = input.replace(/\r?\n$/, "");
        if (line.includes("\n")) throw new UsageError("expected a single line on standard input");
        return line;
    }
    const first = await promptHidden("Password: ");
    const problem = checkPassword(first);
    if (problem) throw new UsageError(problem);
    const second = await promptHidden("Password (again): ");
    if (first !== second) throw new UsageError("the two passwords differ");
    return first;
}

function insertUserSql({ username, tier, admin }, passwordHash) {
    // INSERT ... SELECT inserts nothing when the tier does not exist; RETURNING
    // lets the caller see that (local D1 reports no change count).
    return (
        "INSERT INTO users (username, password_hash, tier_id, is_admin, created_at) " +
        `SELECT ${sqlString(username)}, ${sqlString(passwordHash)}, id, ${admin ? 1 : 0}, unixepoch() * 1000 ` +
        `FROM tiers WHERE name = ${sqlString(tier)} RETURNING id`
    );
}

function d1Execute(sql, remote) {
    const args = ["--no-install", "--loglevel=error", "wrangler", "d1", "execute", "DB", "--json"];
    if (remote) {
        args.push("--remote");
    } else {
        args.push("--local");
        if (process.env.STORAGETIERS_PERSIST) args.push("--persist-to", process.env.STORAGETIERS_PERSIST);
    }
    args.push("--command", sql);
    const result = spawnSync("npx", args, {
        cwd: ROOT,
        env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
    });
    if (result.error) fail(`could not run wrangler: ${result.error.message}`);
    return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
}

async function createUser(options) {
    const problem = checkUsername(options.username);
    if (problem) throw new UsageError(problem);
    const password = await readPassword();
    const passwordProblem = checkPassword(password);
    if (passwordProblem) throw new UsageError(passwordProblem);

    const sql = insertUserSql(options, hashPassword(password));
    const { status, output } = d1Execute(sql, options.remote);
    if (status !== 0) {
        if (/UNIQUE constraint failed: users\.username/.test(output))
            fail(`a user named '${options.username}' already exists`);
        if (/no such table/.test(output)) fail(`the database has no schema yet: apply the migrations first\n${output.trim()}`);
        fail(`wrangler d1 execute failed:\n${output.trim()}`);
    }
    const inserted = returnedRows(output);
    if (inserted === 0) fail(`unknown tier '${options.tier}'`);
    if (inserted !== 1) fail(`unexpected result from wrangler d1 execute:\n${output.trim()}`);
    const where = options.remote ? "remote" : "local";
    process.stderr.write(
        `created ${options.admin ? "admin " : ""}user '${options.username}' (tier ${options.tier}) in the ${where} D1\n`,
    );
}

/** How many rows `wrangler d1 execute --json` returned, or undefined. */
function returnedRows(output) {
    const start = output.indexOf("[");
    if (start < 0) return undefined;
    try {
        const results = JSON.parse(output.slice(start, output.lastIndexOf("]") + 1));
        return results.reduce((sum, r) => sum + (r?.results?.length ?? 0), 0);
    } catch {
        return undefined;
    }
}

async function main() {
    try {
        await createUser(parseArgs(process.argv.slice(2)));
    } catch (error) {
        if (error instanceof UsageError) fail(error.message);
        throw error;
    }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
