// Entry point of the web app: sign-in, the page shell (header, navigation) and the client-side
// routes / (gallery and upload), /links (share links) and /admin (admins only).

import * as api from "./api.js";
import { h, describe } from "./ui.js";
import { galleryView } from "./gallery.js";
import { linksView } from "./links.js";
import { adminView } from "./admin.js";
import { loadLimits } from "./limits.js";

const root = document.getElementById("app");
/** The signed-in user: {username, is_admin, tier: {name, thumbnail_heights, allow_original, allow_expiring_links}}. */
let me = null;
/** Stops the current view's timers and observers. */
let teardown = () => {};

api.onSessionLost((reason) => {
  me = null;
  showSignIn(reason);
});

async function start() {
  // The views state the service's limits from the API's document: read it before any view
  // renders (a small static file, fetched while the session is checked).
  const limitsLoaded = loadLimits();
  if (api.hasSession()) {
    try {
      [me] = await Promise.all([whoAmI(), limitsLoaded]);
      return route();
    } catch (e) {
      if (e.status !== 401) return showSignIn(describe(e));
      await api.signOut();
    }
  }
  await limitsLoaded;
  showSignIn();
}

/** The signed-in user and their tier (`GET /api/me/`). */
async function whoAmI() {
  return (await api.api("GET", "/api/me/")).json;
}

function showSignIn(message = "") {
  teardown();
  teardown = () => {};
  document.title = "Sign in · storagetiers";
  const error = h("p", { class: "form-error", role: "alert", id: "signin-error" }, message);
  error.hidden = !message;
  const username = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const password = h("input", {
    id: "password", name: "password", type: "password", autocomplete: "current-password", required: true,
  });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h("form", { class: "card signin", onsubmit: async (event) => {
    event.preventDefault();
    submit.disabled = true;
    error.hidden = true;
    try {
      await api.signIn(username.value.trim(), password.value);
      me = await whoAmI();
      route();
    } catch (e) {
      error.textContent = describe(e, "sign-in");
      error.hidden = false;
      password.select();
    } finally {
      submit.disabled = false;
    }
  } },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "Your pictures, their thumbnails and share links."),
    h("label", { for: "username" }, "Username"), username,
    h("label", { for: "password" }, "Password"), password,
    error,
    submit,
  );
  root.replaceChildren(h("main", { class: "center" }, brand(), form,
    h("p", { class: "muted small" }, h("a", { href: "/docs" }, "API reference"))));
  username.focus();
}

function brand() {
  return h("a", { class: "brand", href: "/", onclick: navigate }, h("span", { class: "logo", "aria-hidden": "true" }), "storagetiers");
}

function navigate(event) {
  const href = event.currentTarget.getAttribute("href");
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  history.pushState(null, "", href);
  route();
}

function shell(active) {
  const link = (href, label) =>
    h("a", { href, onclick: navigate, "aria-current": active === href ? "page" : false }, label);
  return h("header", { class: "topbar" },
    brand(),
    h("nav", { "aria-label": "Main" },
      link("/", "Gallery"),
      me.tier.allow_expiring_links && link("/links", "Share links"),
      me.is_admin && link("/admin", "Admin"),
    ),
    h("div", { class: "who" },
      h("span", { id: "who" }, h("strong", {}, me.username), h("span", { class: "badge", id: "tier-badge" }, me.tier.name)),
      h("button", { type: "button", class: "ghost", id: "sign-out", onclick: async () => {
        await api.signOut();
        me = null;
        history.pushState(null, "", "/");
        showSignIn("You have signed out.");
      } }, "Sign out"),
    ),
  );
}

function route() {
  if (!me) return showSignIn();
  teardown();
  let path = location.pathname.replace(/\/+$/, "") || "/";
  if (path === "/admin" && !me.is_admin) path = "/";
  const main = h("main", { id: "main", class: "page" });
  root.replaceChildren(shell(path), main);
  const views = {
    "/": ["Gallery", galleryView],
    "/links": ["Share links", linksView],
    "/admin": ["Admin", adminView],
  };
  const [title, view] = views[path] ?? views["/"];
  document.title = `${title} · storagetiers`;
  teardown = view(main, me) ?? (() => {});
}

window.addEventListener("popstate", route);
start();
