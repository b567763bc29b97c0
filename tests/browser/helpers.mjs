// Shared pieces of the browser tests: the server and admin from scripts/test's environment,
// API set-up calls (users, tiers, pictures) over fetch, Debian's Chromium through
// playwright-core, console-error collection, fixtures and screenshots.

import { chromium } from "playwright-core";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { deflateSync } from "node:zlib";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the browser tests with make test (scripts/test)`);
  return value;
}

export const BASE = env("STORAGETIERS_URL");
export const ADMIN = { username: env("STORAGETIERS_ADMIN_USER"), password: env("STORAGETIERS_ADMIN_PASSWORD") };
/** Where the screenshots go (git-ignored); scripts/test prints it. */
export const SHOTS = process.env.STORAGETIERS_SCREENSHOTS ?? path.join(here, "screenshots");
mkdirSync(SHOTS, { recursive: true });

export const unique = (prefix) => `${prefix}-${randomUUID().slice(0, 8)}`;

/** One API call; returns {status, json, headers}. */
export async function call(method, urlPath, { token, json, form } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  let body;
  if (json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  const res = await fetch(BASE + urlPath, { method, headers, body });
  const text = await res.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  return { status: res.status, json: parsed, headers: res.headers };
}

export async function token(username, password) {
  const r = await call("POST", "/api/token/", { json: { username, password } });
  if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.access;
}

export async function adminToken() {
  return token(ADMIN.username, ADMIN.password);
}

/** A user made through the admin API. */
export async function createUser(tier, prefix = "web") {
  const user = { username: unique(prefix), password: "browser-pass-1", tier };
  const r = await call("POST", "/api/admin/users", { token: await adminToken(), json: user });
  if (r.status !== 201) throw new Error(`create user: ${r.status} ${JSON.stringify(r.json)}`);
  return user;
}

const images = [path.resolve(root, "../shared/bench-images"), "/work/shared/bench-images"].find((d) => existsSync(d));

/** A photograph from the shared bench images, or a generated PNG when they are not there. */
export function photo(name) {
  if (images && existsSync(path.join(images, name))) {
    return { name, mimeType: "image/jpeg", buffer: readFileSync(path.join(images, name)) };
  }
  return gradientPng(name.replace(/\.\w+$/, ".png"), 1200, 800);
}

/**
 * An RGB PNG with a gradient, made here so a fixture never depends on a file; `noise` adds
 * grain so it compresses little (a bigger upload, whose progress takes a while).
 */
export function gradientPng(name, width, height, noise = 0) {
  let seed = 42;
  const grain = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return (seed % (2 * noise + 1)) - noise;
  };
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) {
      row[1 + x * 3] = (x * 255) / width + grain();
      row[2 + x * 3] = (y * 255) / height + grain();
      row[3 + x * 3] = 160 + grain();
    }
    rows.push(row);
  }
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const buffer = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.concat(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
  return { name, mimeType: "image/png", buffer };
}

/**
 * The path of a JPEG as large as a camera's (grain all over, so it compresses as little as a
 * high-ISO photo: about 1.5 bytes a pixel at 4:4:4), made once with sharp (already installed
 * for wrangler) into build/ (git-ignored) and reused by later runs.
 */
export async function grainyJpeg(width, height) {
  const dir = path.join(root, "build", "browser-fixtures");
  const file = path.join(dir, `grain-${width}x${height}.jpg`);
  if (!existsSync(file)) {
    const { default: sharp } = await import("sharp");
    mkdirSync(dir, { recursive: true });
    await sharp({ create: { width, height, channels: 3, noise: { type: "gaussian", mean: 128, sigma: 48 } } })
      .jpeg({ quality: 95, chromaSubsampling: "4:4:4" })
      .toFile(`${file}.part`);
    renameSync(`${file}.part`, file);
  }
  return file;
}

/** Uploads `file` for the user behind `access` through the API. */
export async function uploadViaApi(access, file, name) {
  const form = new FormData();
  form.append("name", name);
  form.append("img", new Blob([file.buffer], { type: file.mimeType }), file.name);
  const r = await call("POST", "/api/pictures", { token: access, form });
  if (r.status !== 201) throw new Error(`upload: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_BIN ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}

/**
 * A fresh context (no cookies, no storage) and page whose console errors and uncaught
 * exceptions are collected in `page.errors`; requests to any other origin are refused and
 * listed in `page.foreign`, so a CDN dependency would show.
 */
export async function newPage(browser, { width = 1280, height = 860 } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, baseURL: BASE });
  const page = await context.newPage();
  page.errors = [];
  page.foreign = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") page.errors.push(msg.text());
  });
  page.on("pageerror", (err) => page.errors.push(`uncaught: ${err.message}`));
  const origin = new URL(BASE).origin;
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
    page.foreign.push(url);
    return route.abort();
  });
  return page;
}

export async function signIn(page, username, password) {
  await page.goto("/");
  await page.locator("#username").fill(username);
  await page.locator("#password").fill(password);
  await page.locator("form.signin button[type=submit]").click();
}

export async function shot(page, name) {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}
