// Browser scenarios of the web app and /docs in headless Chromium, against the wrangler dev
// that scripts/test starts (node --test tests/browser/).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import {
  BASE, ADMIN, SHOTS, unique, call, token, adminToken, createUser, photo, gradientPng,
  grainyJpeg, uploadViaApi, launch, newPage, signIn, shot,
} from "./helpers.mjs";
import { statSync } from "node:fs";

let browser;

before(async () => {
  browser = await launch();
  console.log(`# screenshots: ${SHOTS}`);
});

after(async () => {
  await browser?.close();
});

/**
 * The page's console errors, less the browser's own "Failed to load resource" notes for the
 * statuses a scenario provokes on purpose.
 */
function unexpectedErrors(page, ...statuses) {
  return page.errors.filter((e) => !statuses.some((s) => e.includes(`status of ${s} `)));
}

/** The sizes a gallery card offers, e.g. ["200 px", "Original"]. */
async function cardSizes(card) {
  return card.locator(".sizes .chip").allTextContents();
}

/** Waits until every <img> of the gallery has loaded and returns their natural widths. */
async function galleryWidths(page, count) {
  await page.waitForFunction((n) => {
    const imgs = [...document.querySelectorAll("#gallery img")];
    return imgs.length >= n && imgs.every((img) => img.complete && img.naturalWidth > 0);
  }, count, { timeout: 20_000 });
  return page.$$eval("#gallery img", (imgs) => imgs.map((img) => img.naturalWidth));
}

test("signs in with the keyboard alone, shows the user and tier, and signs out", async () => {
  const user = await createUser("Basic");
  const page = await newPage(browser);
  await page.goto("/");
  await page.locator("#username").focus();
  await page.keyboard.type(user.username);
  await page.keyboard.press("Tab");
  await page.keyboard.type(user.password);
  await page.keyboard.press("Enter");
  await page.locator("#who").getByText(user.username).waitFor();
  // The tier comes from GET /api/me/.
  assert.equal(await page.locator("#tier-badge").textContent(), "Basic");
  // No admin link for a non-admin, and /admin falls back to the gallery.
  assert.equal(await page.locator("nav a[href='/admin']").count(), 0);
  await page.goto("/admin");
  await page.locator("#gallery-title").waitFor();
  // A reload keeps the session of this tab.
  await page.reload();
  await page.locator("#who").getByText(user.username).waitFor();
  await page.locator("#sign-out").click();
  await page.locator("#signin-error").getByText("You have signed out.").waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, "tokens are gone from the tab");
  assert.deepEqual(unexpectedErrors(page), []);
  assert.deepEqual(page.foreign, []);
  await page.context().close();
});

test("uploads two files with a progress bar each reaching the end, then shows their thumbnails", async () => {
  const user = await createUser("Premium");
  const page = await newPage(browser);
  await signIn(page, user.username, user.password);
  await page.locator("#dropzone").waitFor();
  // Slow the upload down so the progress is visible and a screenshot can catch it mid-way.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 600 * 1024,
  });
  const files = [photo("seeding-12mp.jpg"), gradientPng("gradient.png", 800, 500, 40)];
  await page.locator("#file-input").setInputFiles(files);
  const rows = page.locator("#upload-queue li");
  assert.equal(await rows.count(), 2);
  await rows.nth(1).locator("input.name").fill("Gradient test card");
  await page.locator("#upload-start").click();
  // Every value each bar shows on the way, sampled in the page.
  await page.evaluate(() => {
    window.progressSeen = [[], []];
    const bars = [...document.querySelectorAll("#upload-queue progress")];
    const sample = () => bars.forEach((bar, i) => window.progressSeen[i].push(bar.value));
    window.progressTimer = setInterval(sample, 20);
  });
  await page.waitForFunction(() => {
    const v = document.querySelector("#upload-queue li[data-file='seeding-12mp.jpg'] progress, #upload-queue li progress")?.value;
    return v > 10 && v < 90;
  }, null, { timeout: 20_000 });
  await shot(page, "upload-in-progress");
  await page.waitForFunction(() => [...document.querySelectorAll("#upload-queue li")].every((li) => li.dataset.state === "done"), null, { timeout: 60_000 });
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  const seen = await page.evaluate(() => {
    clearInterval(window.progressTimer);
    return window.progressSeen;
  });
  for (const [i, values] of seen.entries()) {
    assert.ok(values.some((v) => v > 0 && v < 100), `bar ${i} showed progress between the ends: ${values.slice(0, 20)}`);
  }
  for (const bar of await page.locator("#upload-queue progress").all()) {
    assert.equal(await bar.evaluate((b) => b.value === b.max), true, "each bar ends full");
  }
  // Both pictures are in the gallery, newest first, with the tier's thumbnails loaded.
  const widths = await galleryWidths(page, 2);
  assert.equal(widths.length, 2);
  assert.ok(widths.every((w) => w > 0));
  const names = await page.locator("#gallery h3").allTextContents();
  assert.deepEqual(new Set(names), new Set(["seeding-12mp", "Gradient test card"]));
  assert.deepEqual(await cardSizes(page.locator("#gallery article").first()), ["200 px", "400 px", "Original"]);
  // With the cookie session, images are plain <img src="/api/..."> the browser caches.
  const srcs = await page.$$eval("#gallery img", (imgs) => imgs.map((img) => img.getAttribute("src")));
  assert.ok(srcs.every((s) => s.startsWith("/api/picture/")), srcs.join(" "));
  // The original opens in the viewer.
  await page.locator("#gallery article").first().locator(".chip", { hasText: "Original" }).click();
  await page.waitForFunction(() => document.querySelector("dialog .viewer-img")?.naturalWidth > 1000);
  await page.keyboard.press("Escape");
  // A fuller gallery for the screenshot: three more pictures through the API, then a reload.
  const access = await token(user.username, user.password);
  await Promise.all([
    uploadViaApi(access, photo("sunset-2mp.jpg"), "Sunset"),
    uploadViaApi(access, photo("seeding-12mp-exif-rotated.jpg"), "Seeding, shot sideways"),
    uploadViaApi(access, photo("dragonfly-13mp-progressive.jpg"), "Dragonfly"),
  ]);
  await page.reload();
  await galleryWidths(page, 5);
  await shot(page, "gallery");
  assert.deepEqual(unexpectedErrors(page), []);
  assert.deepEqual(page.foreign, []);
  await page.context().close();
});

test("a Basic user sees the 200 px thumbnail and no original; deleting asks first", async () => {
  const user = await createUser("Basic");
  const access = await token(user.username, user.password);
  await uploadViaApi(access, photo("sunset-2mp.jpg"), "Sunset");
  const page = await newPage(browser, { width: 390, height: 844 });
  await signIn(page, user.username, user.password);
  const widths = await galleryWidths(page, 1);
  assert.ok(widths[0] > 0);
  const card = page.locator("#gallery article").first();
  assert.deepEqual(await cardSizes(card), ["200 px"]);
  assert.equal(await page.getByText("Original").count(), 0);
  // No share links in a Basic tier (known from GET /api/me/).
  assert.equal(await card.locator("button.share").count(), 0);
  // Phone width: nothing sticks out sideways.
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
  await card.locator("button.delete").click();
  await page.getByText("every thumbnail and any share links").waitFor();
  await page.locator("dialog button[value=cancel]").click();
  assert.equal(await page.locator("#gallery article").count(), 1, "cancel keeps it");
  await card.locator("button.delete").click();
  await page.locator("dialog button[value=confirm]").click();
  await page.locator(".empty").waitFor({ state: "visible" });
  const list = await call("GET", "/api/pictures", { token: access });
  assert.deepEqual(list.json, []);
  assert.deepEqual(unexpectedErrors(page), []);
  await page.context().close();
});

test("an Enterprise user shares a picture; the link opens without a session until revoked", async () => {
  const user = await createUser("Enterprise");
  const access = await token(user.username, user.password);
  await uploadViaApi(access, photo("sunset-2mp.jpg"), "Shared sunset");
  const page = await newPage(browser);
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
  await signIn(page, user.username, user.password);
  await galleryWidths(page, 1);
  await page.locator("#gallery article button.share").click();
  // Out of range first: the API's message shows next to the field.
  await page.locator("#share-time").fill("30001");
  await page.locator("#share-time").evaluate((el) => el.removeAttribute("max"));
  await page.locator("#share-create").click();
  await page.getByText("Ensure this value is between 300 and 30000.").waitFor();
  await page.locator("#share-time").fill("600");
  await page.locator("#share-size").selectOption("400");
  await page.locator("#share-create").click();
  const url = await page.locator("#share-dialog .link-url").inputValue();
  assert.match(url, new RegExp(`^${BASE}/api/timelink/[0-9a-f-]{36}$`));
  const countdown = page.locator("#share-dialog .countdown");
  await page.waitForFunction(() => /^(9|10):\d\d left$/.test(document.querySelector("#share-dialog .countdown")?.textContent ?? ""));
  const first = await countdown.textContent();
  await page.waitForTimeout(1100);
  assert.notEqual(await countdown.textContent(), first, "the countdown moves");
  await page.locator("#share-dialog button.copy").click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), url);
  await shot(page, "share-dialog");

  // A fresh browser context: no cookie, no token.
  const stranger = await newPage(browser);
  const opened = await stranger.goto(url);
  assert.equal(opened.status(), 200);
  assert.equal(opened.headers()["content-type"], "image/jpeg");
  assert.equal(await stranger.evaluate(() => document.images[0]?.naturalHeight), 400);

  // The link is on the links page too; revoke it there.
  await page.keyboard.press("Escape");
  await page.locator("nav a[href='/links']").click();
  const item = page.locator("#links li");
  await item.first().waitFor();
  assert.equal(await item.count(), 1);
  await item.locator("button.revoke").click();
  await page.locator("dialog button[value=confirm]").click();
  await page.getByText("Link revoked.").waitFor();
  await page.locator("#links li").first().waitFor({ state: "detached" });

  const after = await stranger.goto(url);
  assert.equal(after.status(), 404);
  // The out-of-range duration's 400 was on purpose.
  assert.deepEqual(unexpectedErrors(page, 400), []);
  await stranger.context().close();
  await page.context().close();
});

test("an admin creates a tier and a user, who signs in and sees that tier's sizes", async () => {
  const tierName = unique("Studio");
  const username = unique("carol");
  const page = await newPage(browser);
  await signIn(page, ADMIN.username, ADMIN.password);
  await page.locator("nav a[href='/admin']").click();
  await page.locator("#tiers tr").first().waitFor();

  await page.locator("#tier-name").fill(tierName);
  await page.locator("#tier-heights").fill("120, 360, 5000");
  await page.locator("#tier-form button[type=submit]").click();
  // The API's per-field message shows next to the heights.
  await page.locator("#tier-form").getByText("Each height must be an integer from 1 to 1000.").waitFor();
  await page.locator("#tier-heights").fill("360, 120");
  await page.locator("#tier-form button[type=submit]").click();
  const row = page.locator(`#tiers tr[data-tier="${tierName}"]`);
  await row.waitFor();
  assert.equal(await row.locator("td").first().textContent(), "120, 360");

  await page.locator("#user-name").fill(username);
  await page.locator("#user-password").fill("studio-pass-1");
  await page.locator("#user-tier").selectOption(tierName);
  await page.locator("#user-form button[type=submit]").click();
  const userRow = page.locator(`#users tr[data-user="${username}"]`);
  await userRow.waitFor();
  assert.equal(await userRow.locator("select").inputValue(), tierName);

  // A tier in use cannot be deleted, and the console says why.
  await row.getByRole("button", { name: `Delete tier ${tierName}` }).click();
  await page.locator("dialog button[value=confirm]").click();
  await page.locator("#toast").getByText("still the tier of some users").waitFor();
  // Deleting a user says what goes with them before asking.
  await userRow.getByRole("button", { name: `Delete user ${username}` }).click();
  await page.getByText("all of their share links").waitFor();
  await shot(page, "admin-delete-user");
  await page.locator("dialog button[value=cancel]").click();
  await page.locator("#toast").evaluate((el) => (el.hidden = true));
  await shot(page, "admin-console");
  // The bad height (400) and the tier in use (409) were on purpose.
  assert.deepEqual(unexpectedErrors(page, 400, 409), []);

  const carol = await newPage(browser);
  await signIn(carol, username, "studio-pass-1");
  await carol.locator("#who").getByText(username).waitFor();
  await carol.locator("#tier-badge").getByText(tierName).waitFor();
  await carol.getByText(`Your tier, ${tierName}: thumbnails 120, 360 px.`).waitFor();
  await carol.locator("#file-input").setInputFiles([photo("sunset-2mp.jpg")]);
  await carol.locator("#upload-start").click();
  await carol.locator("#upload-queue li[data-state=done]").waitFor();
  await galleryWidths(carol, 1);
  assert.deepEqual(await cardSizes(carol.locator("#gallery article").first()), ["120 px", "360 px"]);
  assert.equal(await carol.locator("nav a[href='/admin']").count(), 0);
  assert.deepEqual(unexpectedErrors(carol), []);
  await carol.context().close();
  await page.context().close();
});

test("a wrong file type shows the API's message next to that file", async () => {
  const user = await createUser("Basic");
  const page = await newPage(browser);
  await signIn(page, user.username, user.password);
  await page.locator("#file-input").setInputFiles([
    { name: "notes.png", mimeType: "image/png", buffer: Buffer.from("not an image at all") },
    photo("sunset-2mp.jpg"),
  ]);
  await page.locator("#upload-start").click();
  const bad = page.locator("#upload-queue li[data-file='notes.png']");
  await bad.locator(".field-error").getByText("JPEG, PNG, WebP, GIF, BMP or TIFF").waitFor();
  assert.equal(await bad.getAttribute("data-state"), "failed");
  await page.locator("#upload-queue li[data-file='sunset-2mp.jpg'][data-state=done]").waitFor();
  // The only console line is the browser's own note of the 400.
  assert.deepEqual(unexpectedErrors(page, 400), []);
  await page.context().close();
});

test("a wrong password, then the throttle, are said in plain words", async () => {
  // A username of its own: the throttle counts per username and address.
  const username = unique("nobody");
  const page = await newPage(browser);
  await page.goto("/");
  for (let attempt = 1; attempt <= 10; attempt++) {
    await page.locator("#username").fill(username);
    await page.locator("#password").fill(`wrong-${attempt}`);
    await page.locator("form.signin button[type=submit]").click();
    await page.locator("#signin-error").getByText("Wrong username or password.").waitFor();
    await page.locator("#signin-error").evaluate((el) => (el.textContent = ""));
  }
  await page.locator("form.signin button[type=submit]").click();
  await page.locator("#signin-error").getByText(/Too many failed sign-in attempts .* Try again in 1[45] min/).waitFor();
  await shot(page, "sign-in-throttled");
  assert.deepEqual(unexpectedErrors(page, 401, 429), []);
  await page.context().close();
});

test("/docs renders the API reference from this server alone, and try-it reaches it", async () => {
  const page = await newPage(browser);
  const served = await page.goto("/docs");
  assert.equal(served.status(), 200);
  await page.getByText("Obtain a token pair").first().waitFor({ timeout: 30_000 });
  for (const tag of ["Pictures", "Share links", "Admin"]) await page.getByText(tag).first().waitFor();
  // Try it: the first operation (POST /api/token) with the example body, sent to this origin.
  await page.locator("button", { hasText: "Test Request" }).first().click();
  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${BASE}/api/token` && r.request().method() === "POST"),
    page.getByRole("button", { name: /^Send/ }).first().click(),
  ]);
  assert.ok([400, 401].includes(answer.status()), `try-it answered ${answer.status()}`);
  await page.getByText(/40[01] (Bad Request|Unauthorized)/).first().waitFor();
  const spec = await call("GET", "/api/openapi.json");
  assert.equal(spec.status, 200);
  assert.equal(spec.json.openapi, "3.1.0");
  assert.deepEqual(page.foreign, [], "no request left this origin");
  assert.deepEqual(unexpectedErrors(page, 400, 401), []);
  await page.context().close();
});

test("a cross-site form post or fetch cannot change anything, even with the session cookie", async () => {
  const page = await newPage(browser);
  await signIn(page, ADMIN.username, ADMIN.password);
  await page.locator("#who").waitFor();
  const tierName = unique("csrf");
  // Another site (the context refuses other origins, so serve it from a route).
  const evil = "http://evil.example/";
  await page.context().route(evil, (route) => route.fulfill({
    contentType: "text/html",
    body: `<form id=f method=post enctype=text/plain action="${BASE}/api/admin/tiers">
      <input name='{"name":"${tierName}","thumbnail_heights":[10],"x":"' value='"}'></form>
      <script>
        fetch("${BASE}/api/admin/tiers", { method: "POST", credentials: "include", mode: "no-cors",
          headers: { "content-type": "text/plain" }, body: JSON.stringify({ name: "${tierName}", thumbnail_heights: [10] }) })
          .finally(() => document.getElementById("f").submit());
      </script>`,
  }));
  await page.goto(evil);
  await page.waitForLoadState("load");
  await page.waitForTimeout(500);
  const tier = await call("GET", `/api/admin/tiers/${tierName}`, { token: await token(ADMIN.username, ADMIN.password) });
  assert.equal(tier.status, 404, "no tier was created");
  await page.context().close();
});

test("every static answer carries the security headers, and another site cannot frame /admin", async () => {
  for (const path of ["/", "/admin", "/links", "/docs", "/assets/app.js", "/assets/app.css", "/favicon.svg", "/api/openapi.json", "/docs-assets/scalar.js"]) {
    const res = await fetch(BASE + path);
    assert.equal(res.status, 200, path);
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.equal(res.headers.get("x-frame-options"), "DENY", path);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
    assert.equal(res.headers.get("referrer-policy"), "no-referrer", path);
    assert.match(csp, /frame-ancestors 'none'/, path);
    assert.match(csp, /script-src 'self'(;|$)/, `${path}: no inline or evaluated script: ${csp}`);
    // One policy, not two joined by a comma (every policy given applies).
    assert.equal(csp.split("default-src").length, 2, `${path}: ${csp}`);
    assert.equal(csp.includes("unsafe-inline"), path === "/docs", `${path}: inline styles only where Scalar needs them`);
  }

  // Another site frames the admin console: the browser must not render it. The other site is a
  // real server on another loopback port (a page fulfilled by a route has no address, so
  // Chromium's local-network checks would block its frame of 127.0.0.1 whatever our headers).
  const evil = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end(`<iframe id="victim" src="${BASE}/admin" width="800" height="600"></iframe>`);
  });
  await new Promise((resolve) => evil.listen(0, "127.0.0.1", resolve));
  const evilUrl = `http://127.0.0.1:${evil.address().port}/`;
  const page = await newPage(browser);
  try {
    await page.context().route(`${evilUrl}**`, (route) => route.continue());
    await page.goto(evilUrl);
    await page.waitForLoadState("load");
    const framed = page.frames().find((f) => f !== page.mainFrame());
    assert.ok(framed, "the iframe exists");
    // Unframed, the app shows its sign-in form within a second; give it ten.
    const rendered = await framed.locator("#username").waitFor({ timeout: 10_000 }).then(() => true, () => false);
    assert.equal(rendered, false, `the framed page rendered (${framed.url()})`);
  } finally {
    await page.context().close();
    evil.closeAllConnections();
    evil.close();
  }
});

test("the app and /docs run under their Content-Security-Policy without a violation", async () => {
  // Each violation becomes a console error, with where it came from.
  const violations = (page) => page.addInitScript(() => document.addEventListener("securitypolicyviolation",
    (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI} from ${e.sourceFile}`)));
  const user = await createUser("Premium");
  const app = await newPage(browser);
  await violations(app);
  const access = await token(user.username, user.password);
  await uploadViaApi(access, photo("sunset-2mp.jpg"), "Sunset");
  await signIn(app, user.username, user.password);
  await galleryWidths(app, 1);
  await app.locator("#gallery article").first().locator(".chip", { hasText: "Original" }).click();
  await app.waitForFunction(() => document.querySelector("dialog .viewer-img")?.naturalWidth > 0);
  assert.deepEqual(unexpectedErrors(app), []);
  await app.context().close();

  const docs = await newPage(browser);
  await violations(docs);
  await docs.goto("/docs");
  await docs.getByText("Obtain a token pair").first().waitFor({ timeout: 30_000 });
  // Scalar styles itself: an unstyled page would show its raw markup at full width.
  const styled = await docs.evaluate(() => document.styleSheets.length > 0 &&
    [...document.querySelectorAll("style")].some((s) => s.textContent.length > 1000));
  assert.ok(styled, "Scalar's styles applied");
  // The one exception: Zod (inside Scalar) probes for eval with `try { Function("") } catch`
  // and, refused, validates without compiling; allowing 'unsafe-eval' would gain nothing.
  const zodProbe = `CSP violation: script-src eval from ${BASE}/docs-assets/scalar.js`;
  assert.deepEqual(unexpectedErrors(docs).filter((e) => e !== zodProbe), []);
  assert.deepEqual(docs.foreign, []);
  await docs.context().close();
});

test("at phone width a queued upload with a long file name does not scroll the page sideways", async () => {
  const user = await createUser("Basic");
  const page = await newPage(browser, { width: 390, height: 844 });
  await signIn(page, user.username, user.password);
  await page.locator("#dropzone").waitFor();
  const file = gradientPng(`holiday-${"very-long-file-name-".repeat(4)}2026.png`, 64, 48);
  await page.locator("#file-input").setInputFiles([file, photo("sunset-2mp.jpg")]);
  await page.locator("#upload-queue li").nth(1).waitFor();
  await shot(page, "upload-queued-390");
  const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(widths[0] <= widths[1], `page ${widths[0]} px wide on a ${widths[1]} px screen`);
  assert.deepEqual(unexpectedErrors(page), []);
  await page.context().close();
});

test("the admin console searches and pages 100 users at phone width without cutting any off", async () => {
  const admin = await adminToken();
  const prefix = unique("crowd");
  for (let start = 0; start < 100; start += 10) {
    await Promise.all(Array.from({ length: 10 }, (_, i) => call("POST", "/api/admin/users", {
      token: admin, json: { username: `${prefix}-${String(start + i).padStart(3, "0")}`, password: "crowd-pass-1", tier: "Basic" },
    }).then((r) => assert.equal(r.status, 201, JSON.stringify(r.json)))));
  }
  const page = await newPage(browser, { width: 390, height: 844 });
  await signIn(page, ADMIN.username, ADMIN.password);
  await page.locator("nav a[href='/admin']").click();
  const rows = page.locator("#users tr");
  await rows.first().waitFor();
  assert.equal(await rows.count(), 20, "one page");

  await page.locator("#user-search").fill(prefix);
  await page.locator("#users-page").getByText(`Users 1–20 matching “${prefix}”`).waitFor();
  const names = () => page.$$eval("#users tr", (trs) => trs.map((tr) => tr.dataset.user));
  const first = await names();
  assert.deepEqual(first, Array.from({ length: 20 }, (_, i) => `${prefix}-${String(99 - i).padStart(3, "0")}`), "newest first");
  await shot(page, "admin-users-390");
  const seen = new Set(first);
  for (let pageNo = 2; pageNo <= 5; pageNo++) {
    await page.locator("#users-next").click();
    await page.locator("#users-page").getByText(`Users ${(pageNo - 1) * 20 + 1}–${pageNo * 20}`).waitFor();
    for (const name of await names()) seen.add(name);
  }
  assert.equal(seen.size, 100, "five pages hold every one of them once");
  assert.equal(await page.locator("#users-next").isDisabled(), true, "no sixth page");
  await page.locator("#users-previous").click();
  await page.locator("#users-page").getByText("Users 61–80").waitFor();

  // Nothing sticks out sideways: not the page, not the table, not a row's controls.
  const layout = await page.evaluate(() => {
    const wrap = document.querySelector(".users-table");
    const controls = [...document.querySelectorAll("#users select, #users input, #users button")];
    return {
      page: Math.max(0, document.documentElement.scrollWidth - window.innerWidth),
      table: Math.max(0, wrap.scrollWidth - wrap.clientWidth),
      outside: controls.filter((c) => c.getBoundingClientRect().right > window.innerWidth).length,
    };
  });
  assert.deepEqual(layout, { page: 0, table: 0, outside: 0 });
  await page.locator("#user-search").fill(`${prefix}-042`);
  await page.locator("#users tr").first().waitFor();
  await page.waitForFunction(() => document.querySelectorAll("#users tr").length === 1);
  assert.deepEqual(await names(), [`${prefix}-042`]);
  assert.deepEqual(unexpectedErrors(page), []);
  await page.context().close();
});

/**
 * Serves `page` an OpenAPI document whose `x-storagetiers-limits` are changed by `edit`, so a
 * scenario can tell figures the app read from the document from figures written into it.
 */
async function serveLimits(page, edit) {
  await page.route((url) => url.pathname === "/api/openapi.json", async (route) => {
    const response = await route.fetch();
    const doc = await response.json();
    edit(doc["x-storagetiers-limits"]);
    await route.fulfill({ response, json: doc });
  });
}

test("the upload panel names the real formats and limits: 100 MB and 100 MP, from the API's document", async () => {
  const doc = (await call("GET", "/api/openapi.json")).json;
  const upload = doc["x-storagetiers-limits"].upload;
  assert.equal(upload.max_bytes, 100_000_000, "MAX_UPLOAD_BYTES' default");
  assert.equal(upload.max_pixels, 100_000_000, "MAX_IMAGE_PIXELS' default");
  const user = await createUser("Basic");
  const page = await newPage(browser);
  await signIn(page, user.username, user.password);
  await page.locator("#upload-rule").waitFor();
  assert.equal(await page.locator("#upload-rule").textContent(),
    "JPEG or PNG up to 100 MB; WebP, GIF, BMP or TIFF up to 48 MiB; at most 100 MP each.");
  assert.equal(await page.locator("#file-input").getAttribute("accept"),
    upload.formats.map((f) => f.content_type).join(","));
  assert.equal(await page.getByText("PNG or JPEG").count(), 0);
  assert.deepEqual(unexpectedErrors(page), []);
  await page.context().close();
});

test("the app's limits come from the document: other figures there change what it says and refuses", async () => {
  const user = await createUser("Enterprise");
  await uploadViaApi(await token(user.username, user.password), photo("sunset-2mp.jpg"), "Sunset");
  const page = await newPage(browser);
  await serveLimits(page, (limits) => {
    limits.upload.max_bytes = 7_000_000;
    limits.upload.max_pixels = 12_000_000;
    limits.upload.formats = [
      { name: "JPEG", content_type: "image/jpeg", max_bytes: 7_000_000 },
      { name: "PNG", content_type: "image/png", max_bytes: 3 * 1024 * 1024 },
    ];
    limits.link_lifetime_secs = { min: 600, max: 7200 };
  });
  const posts = [];
  page.on("request", (r) => r.method() === "POST" && r.url().includes("/api/pictures") && posts.push(r.url()));
  await signIn(page, user.username, user.password);
  await page.locator("#upload-rule").waitFor();
  assert.equal(await page.locator("#upload-rule").textContent(), "JPEG up to 7.0 MB; PNG up to 3 MiB; at most 12 MP each.");
  assert.equal(await page.locator("#file-input").getAttribute("accept"), "image/jpeg,image/png");

  // Larger than the document allows: refused at once, nothing sent.
  await page.locator("#file-input").setInputFiles([{ name: "huge.jpg", mimeType: "image/jpeg", buffer: Buffer.alloc(7_000_001) }]);
  const row = page.locator("#upload-queue li[data-file='huge.jpg']");
  await row.locator(".field-error").getByText("uploads are limited to 7.0 MB").waitFor();
  assert.equal(await row.getAttribute("data-state"), "refused");
  assert.equal(await page.locator("#upload-start").isHidden(), true, "nothing to upload");

  // The share dialog's bounds and advice.
  await galleryWidths(page, 1);
  await page.locator("#gallery article button.share").click();
  const time = page.locator("#share-time");
  assert.equal(await time.getAttribute("min"), "600");
  assert.equal(await time.getAttribute("max"), "7200");
  assert.equal(await time.inputValue(), "3600");
  await time.fill("9000");
  await page.locator("#share-time-help").getByText("From 600 s (10 min) to 7200 s (2 h 0 min).").waitFor();
  assert.deepEqual(posts, [], "no upload was sent");
  assert.deepEqual(unexpectedErrors(page), []);
  await page.context().close();
});

test("the admin form states the tier rules of the document", async () => {
  const page = await newPage(browser);
  await serveLimits(page, (limits) => {
    limits.thumbnail_height.max = 640;
    limits.heights_per_tier = 4;
  });
  await signIn(page, ADMIN.username, ADMIN.password);
  await page.locator("nav a[href='/admin']").click();
  await page.getByText("Thumbnail heights (px, 1 to 640, at most 4)").waitFor();
  assert.deepEqual(unexpectedErrors(page), []);
  await page.context().close();
});

test("a card's sizes come from the tier in the JSON, not from the shape of the picture URLs", async () => {
  const user = await createUser("Enterprise");
  const access = await token(user.username, user.password);
  const picture = await uploadViaApi(access, photo("sunset-2mp.jpg"), "Sunset");
  const page = await newPage(browser);
  // The same renditions at absolute URLs (as a server behind another host name could list
  // them): an app that reads heights out of a URL's segments mislabels every one.
  await page.route((url) => url.pathname === "/api/pictures" && url.searchParams.has("limit"), async (route) => {
    const response = await route.fetch();
    const list = await response.json();
    for (const p of list) p.urls = p.urls.map((u) => new URL(u, BASE).href);
    await route.fulfill({ response, json: list });
  });
  await signIn(page, user.username, user.password);
  await galleryWidths(page, 1);
  const card = page.locator("#gallery article").first();
  assert.equal(await card.getAttribute("data-id"), picture.id, "the id is the JSON's");
  assert.deepEqual(await cardSizes(card), ["200 px", "400 px", "Original"]);
  assert.equal(await page.locator("#gallery img").first().evaluate((img) => img.naturalHeight), 200, "the preview is the 200 px thumbnail");
  await card.locator("button.share").click();
  assert.deepEqual(await page.locator("#share-size option").evaluateAll((os) => os.map((o) => o.value)), ["", "200", "400"]);
  await page.keyboard.press("Escape");
  // Delete goes to the id of the JSON.
  const [deleted] = await Promise.all([
    page.waitForRequest((r) => r.method() === "DELETE"),
    card.locator("button.delete").click().then(() => page.locator("dialog button[value=confirm]").click()),
  ]);
  assert.equal(new URL(deleted.url()).pathname, `/api/picture/${picture.id}`);
  await page.locator(".empty").waitFor({ state: "visible" });
  assert.deepEqual(unexpectedErrors(page), []);
  await page.context().close();
});

test("after an upload the app sends that change's D1 bookmark back on its next calls", async () => {
  const user = await createUser("Basic");
  const page = await newPage(browser);
  await signIn(page, user.username, user.password);
  await page.locator("#dropzone").waitFor();
  const signInBookmark = await page.evaluate(() => sessionStorage.getItem("storagetiers.bookmark"));
  assert.ok(signInBookmark, "signing in is a change, and its bookmark is kept");
  await page.locator("#file-input").setInputFiles([photo("sunset-2mp.jpg")]);
  const [uploaded] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/api/pictures"),
    page.locator("#upload-start").click(),
  ]);
  assert.equal(uploaded.status(), 201);
  assert.equal(await uploaded.request().headerValue("x-d1-bookmark"), signInBookmark, "the upload carries the bookmark held");
  const bookmark = await uploaded.headerValue("x-d1-bookmark");
  assert.ok(bookmark, "the upload answers its bookmark");
  await page.locator("#upload-queue li[data-state=done]").waitFor();

  // Every API call after it, including those after a reload of the tab, carries it.
  const sent = [];
  page.on("request", (r) => {
    if (new URL(r.url()).pathname.startsWith("/api/") && r.resourceType() !== "image") sent.push(r);
  });
  await page.reload();
  await galleryWidths(page, 1);
  const paths = sent.map((r) => new URL(r.url()).pathname);
  assert.ok(paths.includes("/api/me/") && paths.includes("/api/pictures"), paths.join(" "));
  for (const r of sent.filter((r) => r.url().startsWith(`${BASE}/api/`) && !r.url().endsWith("/openapi.json"))) {
    assert.equal(await r.headerValue("x-d1-bookmark"), bookmark, r.url());
  }
  assert.deepEqual(unexpectedErrors(page), []);
  await page.context().close();
});

test("a camera-sized JPEG above the old 20 MiB limit uploads from the app with its progress bar", async () => {
  const file = await grainyJpeg(6000, 4000);
  const bytes = statSync(file).size;
  assert.ok(bytes > 21 * 1024 * 1024, `a ${bytes}-byte fixture is not above 20 MiB`);
  const user = await createUser("Premium");
  const page = await newPage(browser);
  await signIn(page, user.username, user.password);
  await page.locator("#dropzone").waitFor();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 8 * 1024 * 1024,
  });
  await page.locator("#file-input").setInputFiles(file);
  await page.locator("#upload-start").click();
  await page.evaluate(() => {
    window.progressSeen = [];
    window.progressTimer = setInterval(() => window.progressSeen.push(document.querySelector("#upload-queue progress").value), 20);
  });
  await page.locator("#upload-queue li[data-state=done]").waitFor({ timeout: 120_000 });
  const seen = await page.evaluate(() => {
    clearInterval(window.progressTimer);
    return window.progressSeen;
  });
  assert.ok(seen.some((v) => v > 0 && v < 100), `the bar moved between the ends: ${seen.slice(0, 20)}`);
  assert.equal(await page.locator("#upload-queue progress").evaluate((b) => b.value === b.max), true);
  await galleryWidths(page, 1);
  const card = page.locator("#gallery article").first();
  assert.deepEqual(await cardSizes(card), ["200 px", "400 px", "Original"]);
  assert.match(await card.locator(".meta p").first().textContent(), /^6000×4000 · /);
  assert.deepEqual(unexpectedErrors(page), []);
  await page.context().close();
});
