// The admin console (/admin, admins only): tiers (list, create, edit heights and flags, make
// one the default, delete, with the 409 of a tier in use or the default explained) and users
// (search, a page at a time, create, change tier, admin flag, delete, with what deletion
// removes said before confirming).

import * as api from "./api.js";
import { h, describe, toast, confirmAction, fieldError } from "./ui.js";
import * as limits from "./limits.js";

const enc = encodeURIComponent;
/** Users per page of the table: a phone screen or two. */
const USERS_PER_PAGE = 20;

export function adminView(main, me) {
  const tiersBody = h("tbody", { id: "tiers" });
  const usersBody = h("tbody", { id: "users" });
  let tiers = [];

  // --- tiers ---------------------------------------------------------------------------
  const tierErrors = {};
  const tierField = (id, label, input) => {
    tierErrors[input.name] = h("p", { class: "field-error", hidden: true });
    return h("div", { class: "field" }, h("label", { for: id }, label), input, tierErrors[input.name]);
  };
  const rules = limits.current();
  const tName = h("input", { id: "tier-name", name: "name", required: true, maxlength: rules?.tier_name_max_chars });
  const tHeights = h("input", { id: "tier-heights", name: "thumbnail_heights", placeholder: "200, 400", inputmode: "numeric" });
  const tOriginal = h("input", { id: "tier-original", name: "allow_original", type: "checkbox" });
  const tLinks = h("input", { id: "tier-links", name: "allow_expiring_links", type: "checkbox" });
  const tierFormError = h("p", { class: "form-error", role: "alert", hidden: true });
  const tierSubmit = h("button", { type: "submit", class: "primary" }, "Create tier");
  const tierCancel = h("button", { type: "button", class: "ghost", hidden: true, onclick: () => editTier(null) }, "Cancel");
  let editing = null;

  function editTier(tier) {
    editing = tier?.name ?? null;
    tName.value = tier?.name ?? "";
    tHeights.value = tier?.thumbnail_heights.join(", ") ?? "";
    tOriginal.checked = tier?.allow_original ?? false;
    tLinks.checked = tier?.allow_expiring_links ?? false;
    tierSubmit.textContent = tier ? `Save ${tier.name}` : "Create tier";
    tierCancel.hidden = !tier;
    for (const slot of Object.values(tierErrors)) fieldError(slot, []);
    tierFormError.hidden = true;
    if (tier) tHeights.focus();
  }

  function parseHeights(text) {
    const parts = text.split(/[\s,]+/).filter(Boolean);
    // Anything not a number goes to the server as is, so its own message explains it.
    return parts.map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  }

  const tierForm = h("form", { class: "card admin-form", id: "tier-form", onsubmit: async (event) => {
    event.preventDefault();
    for (const slot of Object.values(tierErrors)) fieldError(slot, []);
    tierFormError.hidden = true;
    const body = {
      name: tName.value.trim(),
      thumbnail_heights: parseHeights(tHeights.value),
      allow_original: tOriginal.checked,
      allow_expiring_links: tLinks.checked,
    };
    try {
      if (editing) {
        await api.api("PATCH", `/api/admin/tiers/${enc(editing)}`, { json: body });
        toast(`Tier ${body.name} saved.`);
      } else {
        await api.api("POST", "/api/admin/tiers", { json: body });
        toast(`Tier ${body.name} created.`);
      }
      editTier(null);
      await loadTiers();
    } catch (e) {
      const fields = e.fields;
      let shown = false;
      for (const [field, messages] of Object.entries(fields)) {
        if (tierErrors[field]) { fieldError(tierErrors[field], messages); shown = true; }
      }
      if (!shown) {
        tierFormError.textContent = describe(e);
        tierFormError.hidden = false;
      }
    }
  } },
    h("h3", {}, "Create or edit a tier"),
    tierField("tier-name", "Name", tName),
    tierField("tier-heights", rules
      ? `Thumbnail heights (px, ${rules.thumbnail_height.min} to ${rules.thumbnail_height.max}, at most ${rules.heights_per_tier})`
      : "Thumbnail heights (px)", tHeights),
    h("div", { class: "checks" },
      h("label", { class: "check" }, tOriginal, " Original image"),
      h("label", { class: "check" }, tLinks, " Expiring share links")),
    tierErrors.allow_original, tierErrors.allow_expiring_links,
    tierFormError,
    h("div", { class: "row-actions" }, tierCancel, tierSubmit),
  );

  async function deleteTier(tier) {
    const ok = await confirmAction(`Delete tier ${tier.name}?`,
      "Only a tier that no user has can be deleted. Pictures are not affected.", "Delete tier");
    if (!ok) return;
    try {
      await api.api("DELETE", `/api/admin/tiers/${enc(tier.name)}`);
      toast(`Tier ${tier.name} deleted.`);
      await loadTiers();
    } catch (e) {
      if (e.status === 409 && tier.is_default) {
        toast(describe(e), "error");
      } else if (e.status === 409) {
        toast(`${tier.name} is still the tier of some users, so it was not deleted. Move them to another tier below, then delete it.`, "error");
      } else {
        toast(describe(e), "error");
      }
    }
  }

  async function makeDefault(tier) {
    try {
      await api.api("PATCH", `/api/admin/tiers/${enc(tier.name)}`, { json: { is_default: true } });
      toast(`${tier.name} is now the default tier: new users get it when none is chosen.`);
      await loadTiers();
    } catch (e) {
      toast(describe(e), "error");
    }
  }

  async function loadTiers() {
    tiers = (await api.api("GET", "/api/admin/tiers")).json;
    tiersBody.replaceChildren(...tiers.map((tier) => h("tr", { "data-tier": tier.name },
      h("th", { scope: "row" }, tier.name, tier.is_default && h("span", { class: "badge" }, "default")),
      h("td", {}, tier.thumbnail_heights.length ? tier.thumbnail_heights.join(", ") : "none"),
      h("td", {}, tier.allow_original ? "yes" : "no"),
      h("td", {}, tier.allow_expiring_links ? "yes" : "no"),
      h("td", { class: "cell-actions" },
        h("button", { type: "button", class: "ghost", onclick: () => editTier(tier), "aria-label": `Edit tier ${tier.name}` }, "Edit"),
        !tier.is_default && h("button", { type: "button", class: "ghost", onclick: () => makeDefault(tier), "aria-label": `Make ${tier.name} the default tier` }, "Make default"),
        h("button", { type: "button", class: "ghost danger", onclick: () => deleteTier(tier), "aria-label": `Delete tier ${tier.name}` }, "Delete")),
    )));
    for (const select of main.querySelectorAll("select.tier-select")) fillTiers(select, select.value);
  }

  function fillTiers(select, current) {
    select.replaceChildren(...tiers.map((t) => h("option", { value: t.name, selected: t.name === current }, t.name)));
  }

  // --- users ---------------------------------------------------------------------------
  const userErrors = {};
  const userField = (id, label, input) => {
    userErrors[input.name] = h("p", { class: "field-error", hidden: true });
    return h("div", { class: "field" }, h("label", { for: id }, label), input, userErrors[input.name]);
  };
  const uName = h("input", { id: "user-name", name: "username", required: true, maxlength: rules?.username_max_chars, autocomplete: "off" });
  const uPassword = h("input", { id: "user-password", name: "password", type: "password", required: true, minlength: rules?.password_chars.min, maxlength: rules?.password_chars.max, autocomplete: "new-password" });
  const uTier = h("select", { id: "user-tier", name: "tier", class: "tier-select" });
  const uAdmin = h("input", { id: "user-admin", name: "is_admin", type: "checkbox" });
  const userFormError = h("p", { class: "form-error", role: "alert", hidden: true });

  const userForm = h("form", { class: "card admin-form", id: "user-form", onsubmit: async (event) => {
    event.preventDefault();
    for (const slot of Object.values(userErrors)) fieldError(slot, []);
    userFormError.hidden = true;
    const body = { username: uName.value.trim(), password: uPassword.value, tier: uTier.value, is_admin: uAdmin.checked };
    try {
      await api.api("POST", "/api/admin/users", { json: body });
      toast(`User ${body.username} created on ${body.tier}.`);
      uName.value = "";
      uPassword.value = "";
      uAdmin.checked = false;
      await loadUsers(pageUrl);
    } catch (e) {
      let shown = false;
      for (const [field, messages] of Object.entries(e.fields)) {
        if (userErrors[field]) { fieldError(userErrors[field], messages); shown = true; }
      }
      if (!shown) {
        userFormError.textContent = describe(e);
        userFormError.hidden = false;
      }
    }
  } },
    h("h3", {}, "Create a user"),
    userField("user-name", "Username", uName),
    userField("user-password", rules ? `Password (at least ${rules.password_chars.min} characters)` : "Password", uPassword),
    userField("user-tier", "Tier", uTier),
    h("label", { class: "check" }, uAdmin, " Administrator"), userErrors.is_admin,
    userFormError,
    h("div", { class: "row-actions" }, h("button", { type: "submit", class: "primary" }, "Create user")),
  );

  async function patchUser(user, changes, message) {
    try {
      await api.api("PATCH", `/api/admin/users/${enc(user.username)}`, { json: changes });
      Object.assign(user, changes);
      toast(message);
    } catch (e) {
      toast(describe(e), "error");
      await loadUsers(pageUrl);
    }
  }

  async function deleteUser(user) {
    const self = user.username === me.username ? " This is your own account: you will be signed out." : "";
    const ok = await confirmAction(`Delete user ${user.username}?`,
      `This removes the account, all of ${user.username}'s pictures (the originals and every thumbnail) and all of their share links. It cannot be undone.${self}`,
      "Delete user");
    if (!ok) return;
    try {
      await api.api("DELETE", `/api/admin/users/${enc(user.username)}`);
      toast(`User ${user.username} deleted.`);
      if (self) location.reload();
      await loadUsers(pageUrl);
    } catch (e) {
      toast(describe(e), "error");
    }
  }

  // A page at a time (the API's keyset pages, newest first), filtered by the search box; the
  // pages before this one are kept so "Previous" can go back.
  const search = h("input", { type: "search", id: "user-search", placeholder: "Search usernames", "aria-label": "Search usernames", maxlength: rules?.username_max_chars, autocomplete: "off" });
  const pageStatus = h("p", { class: "muted small", id: "users-page", role: "status" });
  const previous = h("button", { type: "button", class: "ghost", id: "users-previous", disabled: true, onclick: () => loadUsers(earlier.pop(), true) }, "Previous");
  const nextButton = h("button", { type: "button", class: "ghost", id: "users-next", disabled: true, onclick: () => { earlier.push(pageUrl); loadUsers(nextUrl, true); } }, "Next");
  const firstPage = () => `/api/admin/users?limit=${USERS_PER_PAGE}${search.value.trim() ? `&search=${enc(search.value.trim())}` : ""}`;
  let pageUrl = firstPage();
  let nextUrl = null;
  const earlier = [];
  let searchTimer = null;
  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      earlier.length = 0;
      loadUsers(firstPage());
    }, 250);
  });

  async function loadUsers(url = pageUrl, paging = false) {
    const page = await api.api("GET", url);
    const users = page.json;
    pageUrl = url;
    nextUrl = api.nextLink(page.headers);
    const first = earlier.length * USERS_PER_PAGE;
    pageStatus.textContent = users.length
      ? `Users ${first + 1}–${first + users.length}${nextUrl ? "" : ` of ${first + users.length}`}${search.value.trim() ? ` matching “${search.value.trim()}”` : ""}`
      : search.value.trim() ? `No username contains “${search.value.trim()}”.` : "No users.";
    previous.disabled = earlier.length === 0;
    nextButton.disabled = !nextUrl;
    if (paging) pageStatus.scrollIntoView?.({ block: "nearest" });
    usersBody.replaceChildren(...users.map((user) => {
      const tier = h("select", { class: "tier-select", "aria-label": `Tier of ${user.username}`, onchange: (e) =>
        patchUser(user, { tier: e.target.value }, `${user.username} is now on ${e.target.value}.`) });
      fillTiers(tier, user.tier);
      const admin = h("input", { type: "checkbox", checked: user.is_admin, "aria-label": `${user.username} is an administrator`, onchange: (e) =>
        patchUser(user, { is_admin: e.target.checked }, `${user.username} ${e.target.checked ? "is now" : "is no longer"} an administrator.`) });
      return h("tr", { "data-user": user.username },
        h("th", { scope: "row", class: "username" }, user.username),
        h("td", { "data-label": "Tier" }, tier),
        h("td", { "data-label": "Admin" }, admin),
        h("td", { class: "cell-actions" },
          h("button", { type: "button", class: "ghost danger", onclick: () => deleteUser(user), "aria-label": `Delete user ${user.username}` }, "Delete")));
    }));
  }

  const table = (caption, head, body, cls = "") => h("div", { class: `table-wrap ${cls}` }, h("table", {},
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))), body));

  main.append(
    h("section", { "aria-labelledby": "tiers-title", class: "admin-section" },
      h("h2", { id: "tiers-title" }, "Tiers"),
      h("div", { class: "admin-grid" },
        table("Tiers", ["Name", "Thumbnail heights", "Original", "Share links", ""], tiersBody), tierForm)),
    h("section", { "aria-labelledby": "users-title", class: "admin-section" },
      h("h2", { id: "users-title" }, "Users"),
      h("div", { class: "admin-grid" },
        h("div", { class: "users-list" },
          search,
          table("Users", ["Username", "Tier", "Admin", ""], usersBody, "users-table"),
          h("div", { class: "pager" }, pageStatus, h("div", { class: "pager-buttons" }, previous, nextButton))),
        userForm)),
  );

  (async () => {
    try {
      await loadTiers();
      fillTiers(uTier, tiers.find((t) => t.is_default)?.name);
      await loadUsers();
    } catch (e) {
      toast(describe(e), "error");
    }
  })();
}
