// The gallery page: upload (drag and drop or picker, per-file name, progress and errors), the
// user's pictures newest first with infinite scroll over the API's Link header, the tier's
// sizes, delete, and the share dialog.

import * as api from "./api.js";
import {
  h, describe, toast, modal, confirmAction, fieldError, formatBytes, formatDate,
} from "./ui.js";
import { shareDialog } from "./links.js";
import * as limits from "./limits.js";

const PAGE_SIZE = 24;

/**
 * A picture's renditions as {url, height}, height null for the original. The API lists `urls`
 * as the thumbnails of the owner's tier, ascending, then the original if the tier has it; the
 * heights come from that tier (GET /api/me/), never from the shape of a URL.
 */
export function renditions(picture, tier) {
  const heights = [...(tier?.thumbnail_heights ?? [])].sort((a, b) => a - b);
  return picture.urls.map((url, i) => ({ url, height: heights[i] ?? null }));
}

/** The rendition a card shows: the thumbnail nearest 200 px, else the original. */
function preview(list) {
  const thumbs = list
    .filter((r) => r.height !== null)
    .sort((a, b) => Math.abs(a.height - 200) - Math.abs(b.height - 200));
  return thumbs[0] ?? list[0] ?? null;
}

/** "200 px" for a thumbnail, "Original" for the original. */
function sizeLabel(rendition) {
  return rendition.height === null ? "Original" : `${rendition.height} px`;
}

export function galleryView(main, me) {
  const grid = h("div", { class: "grid", id: "gallery", "aria-live": "polite" });
  const empty = h("p", { class: "muted empty", hidden: true }, "No pictures yet. Upload some above.");
  const status = h("p", { class: "muted small", role: "status" });
  const more = h("button", { type: "button", class: "ghost", hidden: true, onclick: () => loadPage() }, "Load more");
  const sentinel = h("div", { class: "sentinel", "aria-hidden": "true" });
  let next = `/api/pictures?limit=${PAGE_SIZE}`;
  let loading = false;
  const ids = new Set();

  main.append(
    uploadPanel(me, (picture) => {
      grid.prepend(card(picture));
      ids.add(picture.id);
      empty.hidden = true;
    }),
    h("section", { "aria-labelledby": "gallery-title" },
      h("div", { class: "section-head" }, h("h2", { id: "gallery-title" }, "Your pictures"), status),
      empty, grid, sentinel, h("div", { class: "center-row" }, more)),
  );

  async function loadPage() {
    if (loading || !next) return;
    loading = true;
    more.disabled = true;
    status.textContent = "Loading…";
    try {
      const page = await api.api("GET", next);
      for (const picture of page.json) {
        if (ids.has(picture.id)) continue;
        ids.add(picture.id);
        grid.append(card(picture));
      }
      next = api.nextLink(page.headers);
      status.textContent = "";
      empty.hidden = grid.children.length > 0;
    } catch (e) {
      status.textContent = describe(e);
    } finally {
      loading = false;
      more.disabled = false;
      more.hidden = !next;
    }
    // A tall screen may show the sentinel again right away: keep filling it.
    if (next && sentinel.getBoundingClientRect().top < window.innerHeight + 400) loadPage();
  }

  function card(picture) {
    const list = renditions(picture, me.tier);
    const shown = preview(list);
    const img = h("img", { alt: picture.name, decoding: "async" });
    if (shown) api.showImage(img, shown.url);
    const el = h("article", { class: "picture", "data-id": picture.id },
      shown
        ? h("button", { type: "button", class: "thumb", "aria-label": `View ${picture.name}`, onclick: () => view(picture, shown) }, img)
        : h("div", { class: "thumb none" }, "No sizes in your tier"),
      h("div", { class: "meta" },
        h("h3", { title: picture.name }, picture.name),
        h("p", { class: "muted small" },
          `${picture.width}×${picture.height} · ${formatBytes(picture.size)} · ${formatDate(picture.created_at)}`),
        h("p", { class: "sizes" },
          list.map((r) =>
            h("button", { type: "button", class: "chip", "data-size": sizeLabel(r), onclick: () => view(picture, r) }, sizeLabel(r))),
        ),
        h("div", { class: "actions" },
          me.tier.allow_expiring_links &&
            h("button", { type: "button", class: "ghost share", onclick: () => shareDialog(picture, list) }, "Share"),
          h("button", { type: "button", class: "ghost danger delete", onclick: () => remove(picture, el) }, "Delete"),
        ),
      ),
    );
    return el;
  }

  async function remove(picture, el) {
    const ok = await confirmAction(
      `Delete “${picture.name}”?`,
      "The original, every thumbnail and any share links of this picture are removed. This cannot be undone.",
      "Delete picture",
    );
    if (!ok) return;
    try {
      await api.api("DELETE", `/api/picture/${picture.id}`);
      el.remove();
      ids.delete(picture.id);
      empty.hidden = grid.children.length > 0;
      toast(`Deleted “${picture.name}”.`);
    } catch (e) {
      toast(describe(e), "error");
    }
  }

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadPage();
  }, { rootMargin: "400px" });
  observer.observe(sentinel);
  loadPage();
  return () => observer.disconnect();
}

/** One rendition, full size, in a dialog. */
function view(picture, rendition) {
  const img = h("img", { alt: `${picture.name}, ${sizeLabel(rendition)}`, class: "viewer-img" });
  api.showImage(img, rendition.url);
  modal(`${picture.name} · ${sizeLabel(rendition)}`, h("div", { class: "viewer" }, img,
    h("p", { class: "small" }, h("a", { href: rendition.url, target: "_blank", rel: "noopener" }, "Open in a new tab"))),
  [{ label: "Close", value: "close" }], { wide: true });
}

/** The upload panel: a drop zone, the file picker and one row per chosen file. */
function uploadPanel(me, onUploaded) {
  const input = h("input", { type: "file", id: "file-input", accept: limits.acceptedTypes(), multiple: true, class: "visually-hidden", tabindex: "-1" });
  const queue = h("ul", { class: "queue", id: "upload-queue" });
  const start = h("button", { type: "button", class: "primary", id: "upload-start", hidden: true, onclick: () => uploadAll() }, "Upload");
  const clear = h("button", { type: "button", class: "ghost", hidden: true, onclick: () => {
    for (const row of [...queue.children]) if (row.dataset.state === "done") row.remove();
    refresh();
  } }, "Clear finished");
  const rows = new Map();

  const drop = h("div", { class: "dropzone", id: "dropzone" },
    h("p", {}, h("strong", {}, "Drop photos here"), " or "),
    h("label", { for: "file-input", class: "button", tabindex: "0", onkeydown: (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); }
    } }, "Choose files"),
    input,
    limits.uploadRule() && h("p", { class: "muted small", id: "upload-rule" }, limits.uploadRule()),
    h("p", { class: "muted small" }, tierSummary(me.tier)),
  );
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const type of ["dragleave", "drop"]) {
    drop.addEventListener(type, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    add([...e.dataTransfer.files]);
  });
  input.addEventListener("change", () => {
    add([...input.files]);
    input.value = "";
  });

  function add(files) {
    for (const file of files) {
      const maxName = limits.current()?.upload.name_max_chars;
      const name = h("input", {
        value: file.name.replace(/\.[^.]+$/, "").slice(0, maxName), maxlength: maxName, "aria-label": `Name for ${file.name}`, class: "name",
      });
      const nameError = h("p", { class: "field-error", hidden: true });
      const fileError = h("p", { class: "field-error", hidden: true });
      const progress = h("progress", { max: "100", value: "0", "aria-label": `Upload progress of ${file.name}` });
      const state = h("span", { class: "state small" }, `${formatBytes(file.size)} · ready`);
      const removeButton = h("button", { type: "button", class: "ghost icon", "aria-label": `Remove ${file.name}`, onclick: () => {
        rows.delete(row);
        row.remove();
        refresh();
      } }, "✕");
      const row = h("li", { class: "upload", "data-state": "ready", "data-file": file.name },
        h("div", { class: "upload-head" }, h("span", { class: "filename", title: file.name }, file.name), state, removeButton),
        h("label", { class: "small" }, "Name", name), nameError,
        progress, fileError,
      );
      rows.set(row, { file, name, nameError, fileError, progress, state, removeButton });
      // Larger than any upload may be: said at once, rather than after sending 100 MB.
      const refusal = limits.refusal(file);
      if (refusal) {
        row.dataset.state = "refused";
        state.textContent = `${formatBytes(file.size)} · too large`;
        fieldError(fileError, [refusal]);
      }
      queue.append(row);
    }
    refresh();
  }

  function refresh() {
    if (start.disabled) return;
    const ready = [...queue.children].filter((r) => r.dataset.state === "ready" || r.dataset.state === "failed").length;
    start.hidden = ready === 0;
    start.textContent = ready === 1 ? "Upload 1 file" : `Upload ${ready} files`;
    clear.hidden = ![...queue.children].some((r) => r.dataset.state === "done");
  }

  async function uploadOne(row) {
    const r = rows.get(row);
    row.dataset.state = "uploading";
    r.removeButton.disabled = true;
    r.name.disabled = true;
    fieldError(r.nameError, []);
    fieldError(r.fileError, []);
    r.state.textContent = "uploading…";
    try {
      const picture = await api.upload(r.file, r.name.value, (fraction) => {
        r.progress.value = Math.round(fraction * 100);
        // All bytes sent: the server now makes the thumbnails.
        r.state.textContent = fraction >= 1 ? "processing…" : `${Math.round(fraction * 100)} %`;
      });
      row.dataset.state = "done";
      r.progress.value = 100;
      r.state.textContent = "uploaded";
      onUploaded(picture);
    } catch (e) {
      row.dataset.state = "failed";
      r.progress.value = 0;
      r.name.disabled = false;
      r.removeButton.disabled = false;
      r.state.textContent = "failed";
      const fields = e.fields;
      if (Object.keys(fields).length) {
        fieldError(r.nameError, fields.name);
        fieldError(r.fileError, [...(fields.img ?? []), ...(fields.non_field_errors ?? [])]);
      } else {
        fieldError(r.fileError, [describe(e)]);
      }
    }
    refresh();
  }

  async function uploadAll() {
    const pending = [...queue.children].filter((r) => r.dataset.state === "ready" || r.dataset.state === "failed");
    start.disabled = true;
    start.textContent = "Uploading…";
    // Two at a time: each upload is decoded in the Worker, and the progress stays readable.
    const workers = [0, 1].map(async () => {
      while (pending.length) await uploadOne(pending.shift());
    });
    await Promise.all(workers);
    start.disabled = false;
    refresh();
  }

  return h("section", { class: "card upload-panel", "aria-labelledby": "upload-title" },
    h("h2", { id: "upload-title" }, "Upload"),
    drop, queue, h("div", { class: "row-actions" }, clear, start));
}

function tierSummary(tier) {
  const sizes = tier.thumbnail_heights.length
    ? `thumbnails ${tier.thumbnail_heights.join(", ")} px`
    : "no thumbnails";
  return `Your tier, ${tier.name}: ${sizes}${tier.allow_original ? ", the original" : ""}${tier.allow_expiring_links ? ", share links" : ""}.`;
}
