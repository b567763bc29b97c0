// Small DOM helpers shared by the views: element building (text only, never HTML strings),
// the API's errors in plain words, toasts, confirmation dialogs and formatters.

/** Builds an element; `on*` props become listeners, children are nodes or text. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value == null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "value" || key === "checked" || key === "selected") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/**
 * Bytes as the server's limits are stated: a whole number of MiB as MiB ("48 MiB", the limit of
 * the formats decoded from one buffer), anything else in decimal units ("100 MB", "13.4 MB").
 */
export function formatBytes(n) {
  const mib = 1024 * 1024;
  if (n >= mib && n % mib === 0) return `${n / mib} MiB`;
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${Math.round(n / 1e3)} kB`;
  const mb = n / 1e6;
  return `${mb < 10 ? mb.toFixed(1) : Math.round(mb)} MB`;
}

/** "2 h 5 min", "4 min 10 s", "12 s". */
export function formatDuration(totalSeconds) {
  const s = Math.max(0, Math.round(totalSeconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const seconds = s % 60;
  if (hours) return `${hours} h ${minutes} min`;
  if (minutes) return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`;
  return `${seconds} s`;
}

/** "1:05:09" or "4:10": the countdown of a share link. */
export function formatClock(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  const pad = (n) => String(n).padStart(2, "0");
  const hours = Math.floor(s / 3600);
  const rest = `${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
  return hours ? `${hours}:${rest}` : rest.replace(/^0/, "");
}

export function formatDate(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/**
 * An API error in plain words. `context` names what was being done, for the cases where
 * the status alone is ambiguous (401 on sign-in means wrong credentials, elsewhere an ended
 * session).
 */
export function describe(error, context = "") {
  const detail = typeof error?.body?.detail === "string" ? error.body.detail : "";
  switch (error?.status) {
    case 0:
      return "Cannot reach the server. Check your connection and try again.";
    case 400: {
      const messages = Object.entries(error.fields ?? {}).map(
        ([field, list]) => (field === "non_field_errors" ? list.join(" ") : `${field}: ${list.join(" ")}`),
      );
      return messages.join(" ") || detail || "The request was not valid.";
    }
    case 401:
      return context === "sign-in"
        ? "Wrong username or password."
        : "Your session has ended. Please sign in again.";
    case 403:
      return detail || "Your account is not allowed to do this.";
    case 404:
      return "It no longer exists: it may have been deleted.";
    case 409:
      return detail || "This conflicts with what is stored.";
    case 413: {
      const bytes = detail.match(/limited to (\d+) bytes/);
      if (bytes) return `This file is too large: uploads are limited to ${formatBytes(Number(bytes[1]))}.`;
      return detail ? `This image is too large. ${detail}` : "This file is too large.";
    }
    case 429: {
      const wait = error.retryAfter ? ` Try again in ${formatDuration(error.retryAfter)}.` : " Try again later.";
      return context === "sign-in"
        ? `Too many failed sign-in attempts for this account from here.${wait}`
        : `Too many requests.${wait}`;
    }
    case 503: {
      const wait = error.retryAfter ? ` Try again in ${formatDuration(error.retryAfter)}.` : " Try again shortly.";
      return `The service is busy right now.${wait}`;
    }
    default:
      return "Something went wrong on the server. Please try again.";
  }
}

let toastTimer = null;
/** A short message in the live region at the bottom of the page. */
export function toast(message, kind = "info") {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.dataset.kind = kind;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 5000);
}

/**
 * A modal dialog with `content`; resolves with the value of the button that closed it
 * ("" for Escape). Focus moves into the dialog and back to where it was.
 */
export function modal(title, content, buttons = [{ label: "Close", value: "close" }], opts = {}) {
  const returnTo = document.activeElement;
  const dialog = h(
    "dialog",
    { class: `modal ${opts.wide ? "wide" : ""}`, "aria-labelledby": "modal-title" },
    h("form", { method: "dialog" },
      h("h2", { id: "modal-title" }, title),
      h("div", { class: "modal-body" }, content),
      h("div", { class: "modal-actions" },
        buttons.map((b) => h("button", { value: b.value, class: b.class ?? "", type: "submit" }, b.label)),
      ),
    ),
  );
  document.body.append(dialog);
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      dialog.remove();
      opts.onClose?.();
      returnTo?.focus?.();
      resolve(dialog.returnValue);
    });
  });
}

/** Asks before something that cannot be undone; true when confirmed. */
export async function confirmAction(title, text, confirmLabel) {
  const answer = await modal(title, h("p", {}, text), [
    { label: "Cancel", value: "cancel" },
    { label: confirmLabel, value: "confirm", class: "danger" },
  ]);
  return answer === "confirm";
}

/** Writes `messages` (a list) into the error slot next to a field. */
export function fieldError(slot, messages) {
  slot.textContent = (messages ?? []).join(" ");
  slot.hidden = !slot.textContent;
}
