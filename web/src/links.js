// Share links: the dialog that creates one for a picture (duration, size, copy, countdown,
// revoke) and the /links page listing the active ones.

import * as api from "./api.js";
import { h, describe, toast, modal, confirmAction, fieldError, formatClock, formatDuration } from "./ui.js";
import * as limits from "./limits.js";

/** The lifetime the dialog offers first, within the allowed range. */
const ONE_HOUR = 3600;

/** Updates every `[data-expires]` element under `container` each second; returns a stop function. */
function countdowns(container) {
  const tick = () => {
    for (const el of container.querySelectorAll("[data-expires]")) {
      const left = (Date.parse(el.dataset.expires) - Date.now()) / 1000;
      el.textContent = left > 0 ? `${formatClock(left)} left` : "expired";
      el.closest("[data-link]")?.classList.toggle("expired", left <= 0);
    }
  };
  tick();
  const timer = setInterval(tick, 1000);
  return () => clearInterval(timer);
}

function absolute(path) {
  return new URL(path, location.origin).href;
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    // Clipboard access can be refused (no permission, not focused): select it for Ctrl+C.
    button.previousElementSibling?.select?.();
    button.textContent = "Press Ctrl+C";
  }
  setTimeout(() => (button.textContent = "Copy"), 2000);
}

/** The URL, copy button, countdown and revoke button of one link. */
function linkBox(link, onRevoked) {
  const url = h("input", { class: "link-url", readonly: true, value: absolute(link.url), "aria-label": "Share URL", onfocus: (e) => e.target.select() });
  const copyButton = h("button", { type: "button", class: "ghost copy", onclick: () => copy(url.value, copyButton) }, "Copy");
  const revoke = h("button", { type: "button", class: "ghost danger revoke", onclick: async () => {
    const ok = await confirmAction("Revoke this link?", "Anyone who has the URL can no longer open it.", "Revoke link");
    if (!ok) return;
    try {
      await api.api("DELETE", link.url);
      toast("Link revoked.");
      onRevoked();
    } catch (e) {
      toast(describe(e), "error");
    }
  } }, "Revoke");
  return h("div", { class: "linkbox", "data-link": link.url },
    h("div", { class: "copyrow" }, url, copyButton),
    h("p", { class: "small" },
      h("span", { class: "countdown", "data-expires": link.expires_at, role: "timer" }), " · ",
      h("a", { href: link.url, target: "_blank", rel: "noopener" }, "Open"), " ", revoke),
  );
}

/**
 * Creates a share link for `picture`, then shows it. `renditions` are the picture's sizes as
 * the gallery knows them ({url, height}, height null for the original).
 */
export function shareDialog(picture, renditions) {
  const heights = renditions.map((r) => r.height).filter((height) => height !== null);
  const originalAllowed = renditions.some((r) => r.height === null);
  // The lifetime's bounds come from the API's document; without it the server's 400 says them.
  const range = limits.linkLifetime();
  const time = h("input", { id: "share-time", type: "number", min: range?.min, max: range?.max, step: "1", value: String(range ? Math.min(Math.max(ONE_HOUR, range.min), range.max) : ONE_HOUR), required: true });
  const timeHelp = h("p", { class: "muted small", id: "share-time-help" });
  const timeError = h("p", { class: "field-error", hidden: true });
  const size = h("select", { id: "share-size" },
    originalAllowed && h("option", { value: "" }, "Original"),
    heights.map((height) => h("option", { value: String(height) }, `${height} px thumbnail`)),
  );
  const sizeError = h("p", { class: "field-error", hidden: true });
  const formError = h("p", { class: "form-error", role: "alert", hidden: true });
  const result = h("div", { class: "share-result", "aria-live": "polite" });
  const create = h("button", { type: "submit", class: "primary", id: "share-create" }, "Create link");
  const explain = () => {
    const n = Number(time.value);
    const inRange = range ? n >= range.min && n <= range.max : n > 0;
    timeHelp.textContent = inRange ? `The link works for ${formatDuration(n)}.` : limits.linkLifetimeRule();
  };
  time.addEventListener("input", explain);
  explain();
  let stop = () => {};

  const form = h("form", { class: "share-form", onsubmit: async (event) => {
    event.preventDefault();
    fieldError(timeError, []);
    fieldError(sizeError, []);
    formError.hidden = true;
    create.disabled = true;
    const body = { time: Number(time.value) };
    if (size.value) body.height = Number(size.value);
    try {
      const link = (await api.api("POST", `/api/picture/${picture.id}`, { json: body })).json;
      stop();
      result.replaceChildren(h("h3", {}, "Link created"), linkBox(link, () => result.replaceChildren(h("p", { class: "muted" }, "Link revoked."))));
      stop = countdowns(result);
      result.querySelector(".link-url").focus();
    } catch (e) {
      const fields = e.fields;
      if (fields.time || fields.height) {
        fieldError(timeError, fields.time);
        fieldError(sizeError, fields.height);
      } else {
        formError.textContent = describe(e);
        formError.hidden = false;
      }
    } finally {
      create.disabled = false;
    }
  } },
    h("label", { for: "share-time" }, "Works for (seconds)"), time, timeHelp, timeError,
    h("label", { for: "share-size" }, "Size"), size, sizeError,
    formError, create,
  );
  modal(`Share “${picture.name}”`, h("div", { id: "share-dialog" }, form, result), [{ label: "Done", value: "close" }],
    { onClose: () => stop() });
}

/** The /links page: active links, newest first, with countdowns; loads every page. */
export function linksView(main) {
  const list = h("ul", { class: "links", id: "links" });
  const status = h("p", { class: "muted", role: "status" }, "Loading…");
  main.append(h("section", { "aria-labelledby": "links-title" },
    h("div", { class: "section-head" }, h("h2", { id: "links-title" }, "Share links")),
    h("p", { class: "muted small" }, "Anyone with one of these URLs can open the picture until the link expires or you revoke it."),
    status, list));
  const stop = countdowns(list);

  (async () => {
    let next = "/api/pictures/shared/?limit=50";
    try {
      while (next) {
        const page = await api.api("GET", next);
        for (const link of page.json) {
          const item = h("li", { class: "card link-item" },
            h("div", {}, h("strong", {}, link.picture.name),
              h("p", { class: "muted small" }, `Made for ${formatDuration(link.time)}`)),
          );
          item.append(linkBox(link, () => item.remove()));
          list.append(item);
        }
        next = api.nextLink(page.headers);
      }
      status.textContent = list.children.length ? "" : "No active links. Create one with Share on a picture in the gallery.";
    } catch (e) {
      status.textContent = describe(e);
    }
  })();
  return stop;
}
