//! Operator commands run outside the Worker; for now, creating a user in D1.
//!
//! Usage: scripts/admin create-user <username> [--tier <name>] [--admin] [--remote]
//!
//! The password is read from standard input when it is not a terminal (one
//! line; a trailing newline is dropped), otherwise prompted for twice without
//! echo. The user goes into the local D1 (the one `make dev` uses, or
//! $STORAGETIERS_PERSIST when set) or, with --remote, the deployed one.

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const USAGE = "usage: scripts/admin create-user <username> [--tier <name>] [--admin] [--remote]";

class UsageError extends Error {}

function fail(message) {
    process.stderr.write(`error: ${message}\n`);
    process.exit(1);
}

/**
 * The validated insert for a new user, from the Rust code's own rules (username, password,
 * Django hash): src/bin/storagetiers-admin.rs. The password goes to it on standard input.
 */
function insertUserSql({ username, tier, admin }, password) {
    const args = ["run", "--quiet", "--bin", "storagetiers-admin", "--", "create-user", username];
    if (tier !== undefined) args.push("--tier", tier);
    if (admin) args.push("--admin");
    const result = spawnSync("cargo", args, { cwd: ROOT, input: `${password}\n`, encoding: "utf8" });
    if (result.error) fail(`could not run cargo: ${result.error.message}`);
    if (result.status !== 0) throw new UsageError(result.stderr.trim().replace(/^error: /, ""));
    return result.stdout.trim();
}

function parseArgs(argv) {
    const [command, ...rest] = argv;
    if (command !== "create-user") throw new UsageError(USAGE);
    const options = { username: undefined, tier: undefined, admin: false, remote: false };
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
    const second = await promptHidden("Password (again): ");
    if (first !== second) throw new UsageError("the two passwords differ");
    return first;
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
    const password = await readPassword();
    const sql = insertUserSql(options, password);
    const { status, output } = d1Execute(sql, options.remote);
    if (status !== 0) {
        if (/UNIQUE constraint failed: users\.username/.test(output))
            fail(`a user named '${options.username}' already exists`);
        if (/no such table/.test(output)) fail(`the database has no schema yet: apply the migrations first\n${output.trim()}`);
        fail(`wrangler d1 execute failed:\n${output.trim()}`);
    }
    const inserted = returnedRows(output);
    if (inserted === 0) fail(`unknown tier '${options.tier ?? "default"}'`);
    if (inserted !== 1) fail(`unexpected result from wrangler d1 execute:\n${output.trim()}`);
    const where = options.remote ? "remote" : "local";
    process.stderr.write(
        `created ${options.admin ? "admin " : ""}user '${options.username}' (tier ${options.tier ?? "default"}) in the ${where} D1\n`,
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
