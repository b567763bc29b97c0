// Measures the imaging crate's AVIF encoder (ravif, release wasm + simd128 in V8) against our JPEG and sharp's AVIF.
//
// Usage: node avif.mjs <avif_wasm.wasm> <folder>...   (bench/avif/run builds and passes these)
// Env: RUNS (>= 3, default 5), AVIF_QUALITY / AVIF_SPEED (ravif settings, default the crate's: 86 and 8),
//      SHARP_QUALITY (sharp's AVIF quality, default 70, see below), SWEEP="q,q,..:s,s,.."
//      (one run per setting pair, summary only: how settings were chosen).
//
// For each image and thumbnail height (200, 400 px):
// - ours: our own thumbnail (imaging::thumbnails, JPEG q85 or PNG when translucent);
// - avif px: imaging::encode_avif of the thumbnail's pixels (sharp's Lanczos3 resize of the
//   original, raw, so both AVIF encoders start from identical pixels): encoder time alone;
// - avif thumb: imaging::avif_from_thumbnail of our stored JPEG/PNG thumbnail (decode + encode):
//   what the Worker would run on a first Accept: image/avif request;
// - sharp: sharp's AVIF (libheif + aom) of the same size from the original.
// SSIM is the same as bench/imaging.mjs: luma BT.601 after flattening on white, 8x8 windows
// stepped by 4 px, K1 0.01, K2 0.03. Peak memory is a fresh instance's linear memory after one
// encode (memory only grows; the input bytes live in it too).

import { readFileSync, readdirSync, writeFileSync, mkdirSync, statSync } from "node:fs";
import { join, basename, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";

sharp.concurrency(1);
sharp.cache(false);

const RUNS = Math.max(3, Number(process.env.RUNS ?? 5));
const HEIGHTS = [200, 400];
// At 70, sharp's AVIF is as faithful to the source as our JPEG q85 (SSIM vs source within
// 0.007 on every bench photo, either way; PREPARE_ONLY=1 shows it), so it is the reference.
const SHARP_QUALITY = Number(process.env.SHARP_QUALITY ?? 70);
const here = dirname(fileURLToPath(import.meta.url));
const [wasmPath, ...folders] = process.argv.slice(2);
const wasmModule = new WebAssembly.Module(readFileSync(wasmPath));
// rav1e's v_frame links the wasm-bindgen crate on wasm32-unknown-unknown, which leaves a few
// imports that only wasm-bindgen's CLI would fill in; nothing in our exports calls them.
const imports = {};
for (const { module, name } of WebAssembly.Module.imports(wasmModule)) {
  imports[module] ??= {};
  imports[module][name] = () => {
    throw new Error(`${module}.${name} called`);
  };
}

/** One instance of the module; its linear memory only grows, so its size is the peak. */
function instance() {
  const { exports: x } = new WebAssembly.Instance(wasmModule, imports);
  const call = (input, fn) => {
    const ptr = x.alloc(input.length);
    new Uint8Array(x.memory.buffer, ptr, input.length).set(input);
    const status = fn(ptr, input.length);
    x.dealloc(ptr, input.length);
    if (status !== 0) {
      const msg = new Uint8Array(x.memory.buffer, x.error_ptr(), x.error_len());
      throw new Error(new TextDecoder().decode(msg));
    }
    const out = {
      width: x.out_width(),
      png: x.out_is_png() === 1,
      bytes: Buffer.from(new Uint8Array(x.memory.buffer, x.out_ptr(), x.out_len())),
    };
    x.clear();
    return out;
  };
  return {
    memoryMiB: () => x.memory.buffer.byteLength / 2 ** 20,
    thumbnail: (bytes, height) => call(bytes, (p, n) => x.thumbnail(p, n, height)),
    avifPixels: (raw, q, s) =>
      call(raw.data, (p, n) => x.avif_pixels(p, n, raw.width, raw.height, raw.channels, q, s)),
    avifThumbnail: (thumb, q, s) => call(thumb, (p, n) => x.avif_thumbnail(p, n, q, s)),
  };
}

/** The same rule as imaging::thumbnail_size. */
function thumbnailSize(width, height, requested) {
  if (requested >= height) return [width, height];
  return [Math.max(1, Math.round((width * requested) / height)), requested];
}

async function upright(bytes) {
  const meta = await sharp(bytes).metadata();
  const swap = (meta.orientation ?? 1) >= 5;
  return { hasAlpha: !!meta.hasAlpha, size: swap ? [meta.height, meta.width] : [meta.width, meta.height] };
}

const resized = (bytes, w, h) =>
  sharp(bytes).rotate().resize({ width: w, height: h, fit: "fill", kernel: "lanczos3" });

async function rawPixels(bytes, w, h, hasAlpha) {
  const { data, info } = await resized(bytes, w, h)
    [hasAlpha ? "ensureAlpha" : "removeAlpha"]()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/** Luma SSIM as bench/imaging.mjs computes it; `a`, `b` are encoded images or {raw}. */
async function ssim(a, b, w, h) {
  const luma = async (img) => {
    const input = img.raw
      ? sharp(img.raw.data, { raw: { width: img.raw.width, height: img.raw.height, channels: img.raw.channels } })
      : sharp(img);
    const { data, info } = await input
      .flatten({ background: "#ffffff" })
      .resize({ width: w, height: h, fit: "fill" })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const y = new Float64Array(info.width * info.height);
    for (let i = 0; i < y.length; i++) y[i] = 0.299 * data[3 * i] + 0.587 * data[3 * i + 1] + 0.114 * data[3 * i + 2];
    return y;
  };
  const [x, y] = [await luma(a), await luma(b)];
  const [c1, c2] = [(0.01 * 255) ** 2, (0.03 * 255) ** 2];
  let [sum, n] = [0, 0];
  for (let wy = 0; wy + 8 <= h; wy += 4) {
    for (let wx = 0; wx + 8 <= w; wx += 4) {
      let [mx, my, vx, vy, cxy] = [0, 0, 0, 0, 0];
      for (let j = 0; j < 8; j++) for (let i = 0; i < 8; i++) {
        const k = (wy + j) * w + wx + i;
        mx += x[k]; my += y[k];
      }
      mx /= 64; my /= 64;
      for (let j = 0; j < 8; j++) for (let i = 0; i < 8; i++) {
        const k = (wy + j) * w + wx + i;
        vx += (x[k] - mx) ** 2; vy += (y[k] - my) ** 2; cxy += (x[k] - mx) * (y[k] - my);
      }
      vx /= 63; vy /= 63; cxy /= 63;
      sum += ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
      n++;
    }
  }
  return sum / n;
}

const median = (xs) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];
/** Wall and CPU milliseconds of `fn`: the machine is shared, and the encoder runs on this
 * thread only, so CPU time is what one uncontended Worker request would wait. */
const clock = (fn) => {
  const [start, cpu] = [process.hrtime.bigint(), process.cpuUsage()];
  fn();
  const used = process.cpuUsage(cpu);
  return { wall: Number(process.hrtime.bigint() - start) / 1e6, cpu: (used.user + used.system) / 1e3 };
};

const images = folders
  .flatMap((folder) => readdirSync(folder).sort().map((name) => join(folder, name)))
  .filter((path) => /\.(jpe?g|png)$/i.test(path) && statSync(path).isFile());

/** Everything that does not depend on our AVIF settings, once per image and height. */
async function prepare() {
  const cases = [];
  for (const path of images) {
    const bytes = readFileSync(path);
    const { hasAlpha, size } = await upright(bytes);
    for (const requested of HEIGHTS) {
      const [w, h] = thumbnailSize(size[0], size[1], requested);
      const ours = instance().thumbnail(bytes, requested);
      if (ours.width !== w) throw new Error(`${path}: our width ${ours.width} != ${w}`);
      const raw = await rawPixels(bytes, w, h, hasAlpha);
      const sharpAvif = await resized(bytes, w, h).avif({ quality: SHARP_QUALITY }).toBuffer();
      cases.push({
        image: basename(path), w, h, ours, raw, sharpAvif,
        sharp_ssim_vs_source: await ssim(sharpAvif, { raw }, w, h),
        ours_ssim_vs_sharp_avif: await ssim(ours.bytes, sharpAvif, w, h),
        ours_ssim_vs_source: await ssim(ours.bytes, { raw }, w, h),
      });
    }
  }
  return cases;
}

/** Our AVIF of one case at settings (q, s); `runs` timed runs on a shared instance. */
async function measure(c, q, s, runs, shared) {
  const fresh = instance();
  const fromPixels = fresh.avifPixels(c.raw, q, s);
  const peakPixels = fresh.memoryMiB();
  const freshThumb = instance();
  const fromThumb = freshThumb.avifThumbnail(c.ours.bytes, q, s);
  const peakThumb = freshThumb.memoryMiB();
  const [tPixels, tThumb] = [[], []];
  shared.avifPixels(c.raw, q, s); // warm the shared instance's code and memory
  for (let i = 0; i < runs; i++) {
    tPixels.push(clock(() => shared.avifPixels(c.raw, q, s)));
    tThumb.push(clock(() => shared.avifThumbnail(c.ours.bytes, q, s)));
  }
  const med = (list, k) => median(list.map((t) => t[k]));
  return {
    image: c.image,
    size: `${c.w}x${c.h}`,
    height: c.h,
    ours_format: c.ours.png ? "png" : "jpeg",
    ours_bytes: c.ours.bytes.length,
    avif_px_bytes: fromPixels.bytes.length,
    avif_thumb_bytes: fromThumb.bytes.length,
    sharp_avif_bytes: c.sharpAvif.length,
    ratio_px: fromPixels.bytes.length / c.ours.bytes.length,
    ratio_thumb: fromThumb.bytes.length / c.ours.bytes.length,
    ssim_px: await ssim(fromPixels.bytes, c.sharpAvif, c.w, c.h),
    ssim_thumb: await ssim(fromThumb.bytes, c.sharpAvif, c.w, c.h),
    ssim_px_vs_source: await ssim(fromPixels.bytes, { raw: c.raw }, c.w, c.h),
    sharp_ssim_vs_source: c.sharp_ssim_vs_source,
    ours_ssim_vs_sharp_avif: c.ours_ssim_vs_sharp_avif,
    ours_ssim_vs_source: c.ours_ssim_vs_source,
    ms_px: med(tPixels, "wall"),
    ms_thumb: med(tThumb, "wall"),
    cpu_ms_px: med(tPixels, "cpu"),
    cpu_ms_thumb: med(tThumb, "cpu"),
    peak_mib_px: peakPixels,
    peak_mib_thumb: peakThumb,
  };
}

const f = (x, d = 2) => x.toFixed(d);
const pad = (s, n) => String(s).padEnd(n);
const cases = await prepare();
// imaging::AvifSettings::default(), unless overridden.
const defaults = { quality: Number(process.env.AVIF_QUALITY ?? 86), speed: Number(process.env.AVIF_SPEED ?? 8) };

if (process.env.PREPARE_ONLY) {
  // How faithful sharp's AVIF at SHARP_QUALITY is next to our JPEG: picks the reference.
  console.log(pad("image", 32) + pad("size", 10) + pad("ours B", 9) + pad("sharp B", 9) + "ssim vs source: ours / sharp");
  for (const c of cases) {
    console.log(pad(c.image, 32) + pad(`${c.w}x${c.h}`, 10) + pad(c.ours.bytes.length, 9) + pad(c.sharpAvif.length, 9) +
      `${f(c.ours_ssim_vs_source, 4)} / ${f(c.sharp_ssim_vs_source, 4)}`);
  }
} else if (process.env.SWEEP) {
  const [qs, ss] = process.env.SWEEP.split(":").map((list) => list.split(",").map(Number));
  const shared = instance();
  console.log(pad("q", 5) + pad("speed", 7) + pad("max cpu ms 400", 16) + pad("ratio px (max)", 16) + pad("ratio thumb (max)", 19) +
    pad("ssim px (min)", 15) + pad("ssim thumb (min)", 17) + "(opaque images; ratio and ssim against our JPEG and sharp's AVIF)");
  const sweep = [];
  for (const s of ss) for (const q of qs) {
    const rows = [];
    for (const c of cases) rows.push(await measure(c, q, s, 1, shared));
    const opaque = rows.filter((r) => r.ours_format === "jpeg");
    const max = (k) => Math.max(...opaque.map((r) => r[k]));
    const min = (k) => Math.min(...opaque.map((r) => r[k]));
    const ms400 = Math.max(...rows.filter((r) => r.height === 400).map((r) => r.cpu_ms_px));
    sweep.push({ quality: q, speed: s, max_ms_400: ms400, max_ratio_px: max("ratio_px"), max_ratio_thumb: max("ratio_thumb"),
      min_ssim_px: min("ssim_px"), min_ssim_thumb: min("ssim_thumb"), rows });
    console.log(pad(q, 5) + pad(s, 7) + pad(f(ms400, 0), 16) + pad(f(max("ratio_px")), 16) + pad(f(max("ratio_thumb")), 19) +
      pad(f(min("ssim_px"), 4), 15) + f(min("ssim_thumb"), 4));
  }
  mkdirSync(join(here, "results"), { recursive: true });
  writeFileSync(join(here, "results", "sweep.json"), JSON.stringify({ sharp_quality: SHARP_QUALITY, sweep }, null, 2) + "\n");
} else {
  const shared = instance();
  const rows = [];
  for (const c of cases) rows.push(await measure(c, defaults.quality, defaults.speed, RUNS, shared));
  // cpu: this thread's CPU time (what an uncontended request waits); wall: on this machine as it was.
  console.log(
    pad("image", 31) + pad("size", 10) + pad("ours B", 9) + pad("avif B", 8) + pad("ratio", 7) + pad("sharp B", 9) +
      pad("ssim", 8) + pad("ssim th", 9) + pad("cpu ms", 8) + pad("wall ms", 9) + pad("cpu th", 8) + pad("peak MiB", 9) +
      "ssim vs source: avif/sharp/ours",
  );
  for (const r of rows) {
    console.log(
      pad(r.image, 31) + pad(r.size, 10) + pad(`${r.ours_bytes}${r.ours_format === "png" ? "p" : ""}`, 9) +
        pad(r.avif_px_bytes, 8) + pad(f(r.ratio_px), 7) + pad(r.sharp_avif_bytes, 9) + pad(f(r.ssim_px, 4), 8) +
        pad(f(r.ssim_thumb, 4), 9) + pad(f(r.cpu_ms_px, 0), 8) + pad(f(r.ms_px, 0), 9) + pad(f(r.cpu_ms_thumb, 0), 8) +
        pad(f(r.peak_mib_thumb, 1), 9) +
        `${f(r.ssim_px_vs_source, 4)}/${f(r.sharp_ssim_vs_source, 4)}/${f(r.ours_ssim_vs_source, 4)}`,
    );
  }
  const results = {
    runs: RUNS,
    settings: defaults,
    sharp_avif: { quality: SHARP_QUALITY, note: "sharp defaults otherwise: effort 4, 4:4:4" },
    ssim_method: "luma BT.601 after flattening on white, 8x8 windows stepped by 4 px, K1=0.01 K2=0.03",
    node: process.version,
    sharp: sharp.versions,
    rows,
  };
  mkdirSync(join(here, "results"), { recursive: true });
  writeFileSync(join(here, "results", "avif.json"), JSON.stringify(results, null, 2) + "\n");
}
