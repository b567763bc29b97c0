// Benchmarks the imaging wasm build against sharp (libvips, one thread) on the same thumbnails.
//
// Usage: node imaging.mjs <module.wasm> <folder>... (bench/run-imaging builds and passes these).
// For each image: median time of >= RUNS runs of each pipeline (both thumbnails, 400 and 200
// px high, decode to encode), JPEG bytes ratio, SSIM of each of our thumbnails against
// sharp's at the same size, and the peak linear memory of a fresh wasm instance.
// Camera-sized JPEGs (bench/big-photos.mjs, 40-100 MP) and the images at the pixel limit go
// through the streamed path, 64 KiB at a time, as the service feeds an upload; ONLY=big runs
// just the camera-sized rows.

import { readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync, statSync } from "node:fs";
import { join, basename, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { formatRows, printFormatRows } from "./formats.mjs";
import { bigPhotos } from "./big-photos.mjs";

sharp.concurrency(1);
sharp.cache(false);

const RUNS = Math.max(5, Number(process.env.RUNS ?? 7)); // the brief asks for at least 5
const HEIGHTS = [200, 400];
const TALLEST = 1000; // imaging::MAX_THUMBNAIL_HEIGHT: the service bounds thumbnail heights to this
const CHUNK = 64 * 1024; // what the service's request body stream hands over at a time
const ONLY_BIG = process.env.ONLY === "big";

/** Peak linear memory of a fresh instance making one TALLEST-px thumbnail, or its refusal. */
function tallPeak(bytes, how = "run") {
  const fresh = instance();
  try {
    fresh[how](bytes, [TALLEST]);
    return { peak_mib: fresh.memoryMiB(), error: null };
  } catch (e) {
    return { peak_mib: fresh.memoryMiB(), error: e.message };
  }
}
const MAX_PIXELS = 100_000_000; // imaging::DEFAULT_MAX_PIXELS, the service's limit
const here = dirname(fileURLToPath(import.meta.url));
const [wasmPath, ...folders] = process.argv.slice(2);
const wasmModule = new WebAssembly.Module(readFileSync(wasmPath));

/** One instance of the pipeline; linear memory only grows, so its size is the peak. */
function instance() {
  const { exports } = new WebAssembly.Instance(wasmModule, {});
  const fail = () => {
    const msg = new Uint8Array(exports.memory.buffer, exports.error_ptr(), exports.error_len());
    throw new Error(new TextDecoder().decode(msg));
  };
  const collect = (heights) => {
    const out = heights.map((height, i) => ({
      height,
      width: exports.thumbnail_width(i),
      png: exports.thumbnail_is_png(i) === 1,
      bytes: Buffer.from(new Uint8Array(exports.memory.buffer, exports.thumbnail_ptr(i), exports.thumbnail_len(i))),
    }));
    exports.clear();
    return out;
  };
  let chunk = 0; // the one 64 KiB block the host copies each chunk into
  return {
    memoryMiB: () => exports.memory.buffer.byteLength / 2 ** 20,
    /** The service's way: the file in CHUNK pieces through imaging::Thumbnailer. */
    stream(bytes, heights = HEIGHTS) {
      if (chunk === 0) chunk = exports.alloc(CHUNK);
      exports.stream_begin(heights[0], heights[1] ?? 0, bytes.length);
      for (let at = 0; at < bytes.length; at += CHUNK) {
        const piece = bytes.subarray(at, at + CHUNK);
        new Uint8Array(exports.memory.buffer, chunk, piece.length).set(piece);
        if (exports.stream_feed(chunk, piece.length) !== 0) fail();
      }
      if (exports.stream_end() !== 0) fail();
      return collect(heights);
    },
    run(bytes, heights = HEIGHTS) {
      const ptr = exports.alloc(bytes.length);
      new Uint8Array(exports.memory.buffer, ptr, bytes.length).set(bytes);
      const status = exports.thumbnails(ptr, bytes.length, heights[0], heights[1] ?? 0);
      exports.dealloc(ptr, bytes.length);
      if (status !== 0) fail();
      return collect(heights);
    },
  };
}

/** The same rule as imaging::thumbnail_size, so both pipelines make identical sizes. */
function thumbnailSize(width, height, requested) {
  if (requested >= height) return [width, height];
  return [Math.max(1, Math.round((width * requested) / height)), requested];
}

async function sharpThumbnails(bytes, heights = HEIGHTS) {
  const meta = await sharp(bytes).metadata();
  const swap = (meta.orientation ?? 1) >= 5;
  const [w, h] = swap ? [meta.height, meta.width] : [meta.width, meta.height];
  return Promise.all(
    heights.map(async (requested) => {
      const [tw, th] = thumbnailSize(w, h, requested);
      let pipeline = sharp(bytes).rotate().resize({ width: tw, height: th, fit: "fill", kernel: "lanczos3" });
      pipeline = meta.hasAlpha
        ? pipeline.png()
        : pipeline.jpeg({ quality: 85, chromaSubsampling: "4:2:0" });
      return { height: th, width: tw, png: !!meta.hasAlpha, bytes: await pipeline.toBuffer() };
    }),
  );
}

/** Luma (BT.601) after flattening on white, 8x8 windows every 4 px, K1 0.01, K2 0.03. */
async function ssim(a, b) {
  const luma = async (bytes, w, h) => {
    const { data, info } = await sharp(bytes)
      .flatten({ background: "#ffffff" })
      .resize({ width: w, height: h, fit: "fill" })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const y = new Float64Array(info.width * info.height);
    for (let i = 0; i < y.length; i++) {
      y[i] = 0.299 * data[3 * i] + 0.587 * data[3 * i + 1] + 0.114 * data[3 * i + 2];
    }
    return y;
  };
  const [w, h] = [b.width, b.height];
  const [x, y] = [await luma(a.bytes, w, h), await luma(b.bytes, w, h)];
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

/** A photo scaled up to just under the max-pixels default, as JPEG (both codings) and PNG. */
async function maxPixelImages() {
  const dir = join(here, "generated");
  mkdirSync(dir, { recursive: true });
  const side = Math.floor(Math.sqrt(MAX_PIXELS / 6)); // 3:2
  const [w, h] = [3 * side, 2 * side];
  const images = process.env.BENCH_IMAGES;
  const photo = join(images, "kleiber-24mp.jpg");
  const alpha = join(images, "life-6mp-alpha.png");
  const make = {
    [`max-${w}x${h}-baseline.jpg`]: () => sharp(photo).resize(w, h, { fit: "fill" }).jpeg({ quality: 90 }),
    [`max-${w}x${h}-progressive.jpg`]: () => sharp(photo).resize(w, h, { fit: "fill" }).jpeg({ quality: 90, progressive: true }),
    [`max-${w}x${h}-rgba.png`]: () => sharp(alpha).resize(w, h, { fit: "fill" }).png(),
    [`max-${w}x${h}-interlaced.png`]: () => sharp(alpha).resize(w, h, { fit: "fill" }).png({ progressive: true }),
  };
  const paths = [];
  for (const [name, pipeline] of Object.entries(make)) {
    const path = join(dir, name);
    if (!existsSync(path)) await pipeline().toFile(path);
    paths.push(path);
  }
  return paths;
}

const images = ONLY_BIG ? [] : folders
  .flatMap((folder) => readdirSync(folder).sort().map((name) => join(folder, name)))
  .filter((path) => /\.(jpe?g|png)$/i.test(path) && statSync(path).isFile());

const shared = instance();
const rows = [];
for (const path of images) {
  const bytes = readFileSync(path);
  const fresh = instance();
  const ours = fresh.run(bytes);
  const theirs = await sharpThumbnails(bytes);
  // Warm both, then interleave the runs so neither pipeline gets a quieter machine.
  shared.run(bytes);
  const times = { wasm: [], sharp: [], sharpOne: [] };
  const clock = async (list, fn) => {
    const start = process.hrtime.bigint();
    await fn();
    list.push(Number(process.hrtime.bigint() - start) / 1e6);
  };
  for (let i = 0; i < RUNS; i++) {
    await clock(times.wasm, () => shared.run(bytes));
    await clock(times.sharp, () => sharpThumbnails(bytes));
    // libvips cannot share a decode between outputs; this shows what one thumbnail costs it.
    await clock(times.sharpOne, () => sharpThumbnails(bytes, [HEIGHTS[1]]));
  }
  const [wasmMs, sharpMs, sharpOneMs] = [median(times.wasm), median(times.sharp), median(times.sharpOne)];
  const ssims = [];
  for (let i = 0; i < HEIGHTS.length; i++) ssims.push(await ssim(ours[i], theirs[i]));
  const oursBytes = ours.reduce((s, t) => s + t.bytes.length, 0);
  const theirBytes = theirs.reduce((s, t) => s + t.bytes.length, 0);
  rows.push({
    image: basename(path),
    wasm_ms: wasmMs,
    sharp_ms: sharpMs,
    sharp_400_only_ms: sharpOneMs,
    ratio: wasmMs / sharpMs,
    format: ours[0].png ? "png" : "jpeg",
    sizes: ours.map((t) => `${t.width}x${t.height}`),
    bytes_ratio: oursBytes / theirBytes,
    ssim: ssims,
    peak_mib: fresh.memoryMiB(),
    tall: tallPeak(bytes),
  });
}

const maxRows = [];
for (const path of ONLY_BIG ? [] : await maxPixelImages()) {
  const fresh = instance();
  const start = process.hrtime.bigint();
  let [error, ssims] = [null, []];
  const bytes = readFileSync(path);
  try {
    const ours = fresh.stream(bytes);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const theirs = await sharpThumbnails(bytes);
    for (let i = 0; i < HEIGHTS.length; i++) ssims.push(await ssim(ours[i], theirs[i]));
    maxRows.push({ image: basename(path), ms, peak_mib: fresh.memoryMiB(), ssim: ssims, error, tall: tallPeak(bytes, "stream") });
  } catch (e) {
    maxRows.push({ image: basename(path), peak_mib: fresh.memoryMiB(), error: e.message });
  }
}

// Camera-sized JPEGs, streamed as the service takes them: time against sharp on the same file
// and thumbnails, interleaved; peak wasm of a fresh instance for this one upload.
const bigRows = [];
const bigShared = instance();
for (const path of await bigPhotos(here, process.env.BENCH_IMAGES)) {
  const bytes = readFileSync(path);
  const fresh = instance();
  try {
    const ours = fresh.stream(bytes);
    const theirs = await sharpThumbnails(bytes);
    bigShared.stream(bytes);
    // Wall time, and the process's CPU time (all threads: sharp runs on libuv's one worker),
    // which a shared machine's other load disturbs far less than the wall clock.
    const times = { wasm: [], sharp: [], wasmCpu: [], sharpCpu: [] };
    const cpuMs = (since) => {
      const { user, system } = process.cpuUsage(since);
      return (user + system) / 1e3;
    };
    for (let i = 0; i < RUNS; i++) {
      let start = process.hrtime.bigint();
      let cpu = process.cpuUsage();
      bigShared.stream(bytes);
      times.wasm.push(Number(process.hrtime.bigint() - start) / 1e6);
      times.wasmCpu.push(cpuMs(cpu));
      start = process.hrtime.bigint();
      cpu = process.cpuUsage();
      await sharpThumbnails(bytes);
      times.sharp.push(Number(process.hrtime.bigint() - start) / 1e6);
      times.sharpCpu.push(cpuMs(cpu));
    }
    const ssims = [];
    for (let i = 0; i < HEIGHTS.length; i++) ssims.push(await ssim(ours[i], theirs[i]));
    const [wasmMs, sharpMs] = [median(times.wasm), median(times.sharp)];
    const [wasmCpuMs, sharpCpuMs] = [median(times.wasmCpu), median(times.sharpCpu)];
    bigRows.push({
      image: basename(path), file_mb: bytes.length / 1e6, wasm_ms: wasmMs, sharp_ms: sharpMs,
      ratio: wasmMs / sharpMs, wasm_cpu_ms: wasmCpuMs, sharp_cpu_ms: sharpCpuMs, cpu_ratio: wasmCpuMs / sharpCpuMs, sizes: ours.map((t) => `${t.width}x${t.height}`), ssim: ssims,
      peak_mib: fresh.memoryMiB(), error: null, tall: tallPeak(bytes, "stream"),
    });
  } catch (e) {
    bigRows.push({ image: basename(path), file_mb: bytes.length / 1e6, peak_mib: fresh.memoryMiB(), error: e.message });
  }
}

const pad = (s, n) => String(s).padEnd(n);
const tallText = (t) => (t.error ? `refused (${t.error.split(" ")[0]}...)` : `${t.peak_mib.toFixed(1)} MiB`);
const f = (x, d = 2) => x.toFixed(d);
console.log(
  pad("image", 34) + pad("wasm ms", 9) + pad("sharp ms", 10) + pad("ratio", 7) + pad("sharp400", 9) + pad("fmt", 5) +
    pad("bytes", 7) + pad("ssim 200", 10) + pad("ssim 400", 10) + pad("peak MiB", 9) + `at ${TALLEST} px`,
);
for (const r of rows) {
  console.log(
    pad(r.image, 34) + pad(f(r.wasm_ms, 1), 9) + pad(f(r.sharp_ms, 1), 10) + pad(f(r.ratio), 7) +
      pad(f(r.sharp_400_only_ms, 1), 9) + pad(r.format, 5) + pad(f(r.bytes_ratio), 7) + pad(f(r.ssim[0], 4), 10) + pad(f(r.ssim[1], 4), 10) +
      pad(f(r.peak_mib, 1), 9) + tallText(r.tall),
  );
}
console.log(`all images one after another in one instance: peak ${f(shared.memoryMiB(), 1)} MiB`);
for (const r of maxRows) {
  console.log(
    r.error
      ? `${pad(r.image, 40)} ERROR ${r.error}, peak ${f(r.peak_mib, 1)} MiB`
      : `${pad(r.image, 40)} ${f(r.ms, 0)} ms, peak ${f(r.peak_mib, 1)} MiB, ssim ${r.ssim.map((x) => f(x, 4)).join(" ")}, at ${TALLEST} px: ${tallText(r.tall)}`,
  );
}

const results = {
  runs: RUNS,
  heights: HEIGHTS,
  ssim_method: "luma BT.601 after flattening on white, 8x8 windows stepped by 4 px, K1=0.01 K2=0.03",
  node: process.version,
  sharp: sharp.versions,
  images: rows,
  shared_instance_peak_mib: shared.memoryMiB(),
  max_pixels: MAX_PIXELS,
  max_pixel_images: maxRows,
};
// WebP, GIF, BMP and TIFF (bench/formats.mjs): the same measures per format file.
results.formats = ONLY_BIG ? [] : await formatRows({
  instance, sharpThumbnails, ssim, median, runs: RUNS, heights: HEIGHTS, tallest: TALLEST,
  here, images: process.env.BENCH_IMAGES,
});
if (!ONLY_BIG) printFormatRows(results.formats, TALLEST);
console.log(
  "\n" + pad("big photo (streamed, 64 KiB chunks)", 36) + pad("ours ms", 9) + pad("sharp ms", 10) + pad("ratio", 7) +
    pad("cpu ms", 8) + pad("sharp cpu", 10) + pad("cpu ratio", 10) + pad("peak MiB", 10) + pad("file MB", 9) + pad("ssim 200", 10) + pad("ssim 400", 10) + `at ${TALLEST} px`,
);
for (const r of bigRows) {
  console.log(
    r.error
      ? `${pad(r.image, 36)} ERROR ${r.error}, peak ${f(r.peak_mib, 1)} MiB, file ${f(r.file_mb, 1)} MB`
      : pad(r.image, 36) + pad(f(r.wasm_ms, 0), 9) + pad(f(r.sharp_ms, 0), 10) + pad(f(r.ratio), 7) +
          pad(f(r.wasm_cpu_ms, 0), 8) + pad(f(r.sharp_cpu_ms, 0), 10) + pad(f(r.cpu_ratio), 10) + pad(f(r.peak_mib, 1), 10) + pad(f(r.file_mb, 1), 9) + pad(f(r.ssim[0], 4), 10) + pad(f(r.ssim[1], 4), 10) + tallText(r.tall),
  );
}
results.big_photos = bigRows;
results.big_photos_chunk_bytes = CHUNK;
mkdirSync(join(here, "results"), { recursive: true });
// ONLY=big must not replace the full run that bench/service reads.
writeFileSync(join(here, "results", ONLY_BIG ? "imaging-big.json" : "imaging.json"), JSON.stringify(results, null, 2) + "\n");
