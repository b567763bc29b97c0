// The service's rules the app tells people (accepted formats, file and pixel limits, share-link
// lifetimes, thumbnail heights), read from the OpenAPI document the build generates from the
// Rust constants (`x-storagetiers-limits` of GET /api/openapi.json), so the app states no rule
// of its own. Without the document the app still works: it leaves the figures out and the
// server's own answers say them.

import { formatBytes, formatDuration } from "./ui.js";

let limits = null;

/** Fetches the document once; resolves with the limits, or null when it cannot be read. */
export async function loadLimits() {
  try {
    const res = await fetch("/api/openapi.json", { credentials: "same-origin" });
    limits = res.ok ? (await res.json())["x-storagetiers-limits"] ?? null : null;
  } catch {
    limits = null;
  }
  return limits;
}

/** The limits loaded by `loadLimits`, or null. */
export function current() {
  return limits;
}

/** "JPEG, PNG or WebP". */
export function orList(names) {
  return names.length > 1 ? `${names.slice(0, -1).join(", ")} or ${names.at(-1)}` : names.join("");
}

/** "100 MP", "40.5 MP". */
export function formatPixels(n) {
  const mp = n / 1e6;
  return `${Number.isInteger(mp) ? mp : mp.toFixed(1)} MP`;
}

/** The `accept` list of a file input: the media types the server takes, or any image. */
export function acceptedTypes() {
  return limits ? limits.upload.formats.map((f) => f.content_type).join(",") : "image/*";
}

/**
 * What an upload may be, e.g. "JPEG or PNG up to 100 MB; WebP, GIF, BMP or TIFF up to 48 MiB;
 * at most 100 MP each.": formats that share a file limit are named together.
 */
export function uploadRule() {
  if (!limits) return "";
  const groups = [];
  for (const format of limits.upload.formats) {
    const group = groups.find((g) => g.max === format.max_bytes);
    if (group) group.names.push(format.name);
    else groups.push({ max: format.max_bytes, names: [format.name] });
  }
  const files = groups.map((g) => `${orList(g.names)} up to ${formatBytes(g.max)}`).join("; ");
  return `${files}; at most ${formatPixels(limits.upload.max_pixels)} each.`;
}

/**
 * Why a file cannot be sent at all (larger than any upload may be), or null. Only the overall
 * limit is checked here: the server tells the format from the content, not from the name.
 */
export function refusal(file) {
  if (!limits || file.size <= limits.upload.max_bytes) return null;
  return `This file is too large: uploads are limited to ${formatBytes(limits.upload.max_bytes)}.`;
}

/** {min, max} seconds of a share link, or null. */
export function linkLifetime() {
  return limits?.link_lifetime_secs ?? null;
}

/** "From 300 s (5 min) to 30000 s (8 h 20 min).", or "" without the document. */
export function linkLifetimeRule() {
  const range = linkLifetime();
  if (!range) return "";
  return `From ${range.min} s (${formatDuration(range.min)}) to ${range.max} s (${formatDuration(range.max)}).`;
}
