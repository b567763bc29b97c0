//! Makes a fresh admin through the admin API and prints its access token (scripts/test gives it
//! to schemathesis, so what schemathesis fuzzes never touches the run's own admin).
//!
//! Usage: node scripts/new-admin-token.mjs <base URL>
//! The admin that makes it: $STORAGETIERS_ADMIN_USER / $STORAGETIERS_ADMIN_PASSWORD.
//! The new admin's name and password are random; only its token is printed.

import { randomBytes } from "node:crypto";

const base = process.argv[2];
const { STORAGETIERS_ADMIN_USER: adminUser, STORAGETIERS_ADMIN_PASSWORD: adminPassword } = process.env;
if (!base || !adminUser || !adminPassword) {
    process.stderr.write(
        "usage: STORAGETIERS_ADMIN_USER=.. STORAGETIERS_ADMIN_PASSWORD=.. node scripts/new-admin-token.mjs <base URL>\n",
    );
    process.exit(2);
}

/** POSTs JSON and returns the JSON answer; anything but a 2xx is an error naming the call. */
async function post(path, body, headers = {}) {
    const response = await fetch(new URL(path, base), {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${text}`);
    return JSON.parse(text);
}

async function accessToken(username, password) {
    return (await post("/api/token/", { username, password })).access;
}

try {
    const admin = await accessToken(adminUser, adminPassword);
    const username = `fuzz-admin-${randomBytes(4).toString("hex")}`;
    const password = randomBytes(12).toString("hex");
    await post(
        "/api/admin/users",
        { username, password, tier: "Enterprise", is_admin: true },
        { authorization: `Bearer ${admin}` },
    );
    console.log(await accessToken(username, password));
} catch (error) {
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(1);
}
