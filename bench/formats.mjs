// Bench rows for the input formats besides JPEG and PNG (WebP, GIF, BMP, TIFF), used by imaging.mjs.
//
// sharp (a registry package) makes each file once, into generated/formats/, from the shared
// photographs: real lossy WebP photographs (with and without alpha, one with EXIF orientation 6),
// lossless WebP, GIF, TIFF (LZW and Deflate), BMP (written here from sharp's raw pixels: libvips
// does not write BMP), and the largest lossy WebP the crate accepts. Each row: median time of our
// wasm `thumbnails(&[200, 400])` against sharp making the same two thumbnails from the same file,
// SSIM of ours against sharp's, and the peak linear memory of a fresh instance (input included),
// also for one thumbnail of the tallest height.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";

// The largest 3:2 lossy WebP without alpha the crate accepts (crates/imaging/README.md:
// formats::peak_bytes for a 1000 px thumbnail within 80 MiB).
const MAX_LOSSY_WEBP = [4992, 3328]; // 16.6 MP: the limit since the formats plan keeps 1/32 for the decoders

/** A 24-bit bottom-up BMP of raw RGB pixels. */
function bmp24(data, width, height) {
  const stride = (3 * width + 3) & ~3;
  const out = Buffer.alloc(54 + stride * height);
  out.write("BM", 0);
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(24, 28);
  out.writeUInt32LE(stride * height, 34);
  for (let y = 0; y < height; y++) {
    const row = 54 + (height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const from = 3 * (y * width + x);
      out[row + 3 * x] = data[from + 2];
      out[row + 3 * x + 1] = data[from + 1];
      out[row + 3 * x + 2] = data[from];
    }
  }
  return out;
}

/** Makes the format files once; returns [name, path, source photo] triples. */
async function generate(here, images) {
  const dir = join(here, "generated", "formats");
  mkdirSync(dir, { recursive: true });
  const photo = (name) => join(images, name);
  const make = {
    "sunset-2mp-lossy.webp": () => sharp(photo("sunset-2mp.jpg")).webp({ quality: 80 }),
    "seeding-12mp-lossy.webp": () => sharp(photo("seeding-12mp.jpg")).webp({ quality: 80 }),
    // Pixels stored sideways with EXIF orientation 6, as a phone would write them.
    "seeding-12mp-exif6-lossy.webp": () =>
      sharp(photo("seeding-12mp-exif-rotated.jpg")).keepExif().webp({ quality: 80 }),
    "life-6mp-alpha-lossy.webp": () => sharp(photo("life-6mp-alpha.png")).webp({ quality: 80, alphaQuality: 90 }),
    "life-6mp-alpha-lossless.webp": () => sharp(photo("life-6mp-alpha.png")).webp({ lossless: true }),
    "sunset-2mp.gif": () => sharp(photo("sunset-2mp.jpg")).gif(),
    "seeding-12mp-lzw.tif": () => sharp(photo("seeding-12mp.jpg")).tiff({ compression: "lzw" }),
    "sunset-2mp-deflate.tif": () => sharp(photo("sunset-2mp.jpg")).tiff({ compression: "deflate", predictor: "horizontal" }),
    [`max-${MAX_LOSSY_WEBP.join("x")}-lossy.webp`]: () =>
      sharp(photo("kleiber-24mp.jpg")).resize(...MAX_LOSSY_WEBP, { fit: "fill" }).webp({ quality: 80 }),
  };
  const files = [];
  for (const [name, pipeline] of Object.entries(make)) {
    const path = join(dir, name);
    if (!existsSync(path)) await pipeline().toFile(path);
    files.push(path);
  }
  const bmpPath = join(dir, "sunset-2mp.bmp");
  if (!existsSync(bmpPath)) {
    const { data, info } = await sharp(photo("sunset-2mp.jpg")).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    writeFileSync(bmpPath, bmp24(data, info.width, info.height));
  }
  files.push(bmpPath);
  return files;
}

/**
 * Times, SSIM and memory for every format file. `ctx` lends imaging.mjs's helpers:
 * { instance, sharpThumbnails, ssim, median, runs, heights, tallest, here, images }.
 */
export async function formatRows(ctx) {
  const { instance, sharpThumbnails, ssim, median, runs, heights, tallest } = ctx;
  const rows = [];
  for (const path of await generate(ctx.here, ctx.images)) {
    const bytes = readFileSync(path);
    const name = path.split("/").pop();
    const row = { image: name, input_mib: bytes.length / 2 ** 20 };
    const fresh = instance();
    try {
      const ours = fresh.run(bytes, heights);
      row.peak_mib = fresh.memoryMiB();
      row.sizes = ours.map((t) => `${t.width}x${t.height}`);
      row.format = ours[0].png ? "png" : "jpeg";
      // libvips reads no BMP: compare with sharp's thumbnails of the photo it was made from.
      const sharpReads = !name.endsWith(".bmp");
      const reference = sharpReads ? bytes : readFileSync(join(ctx.images, name.replace(/\.bmp$/, ".jpg")));
      const theirs = await sharpThumbnails(reference, heights);
      row.ssim = [];
      for (let i = 0; i < heights.length; i++) row.ssim.push(await ssim(ours[i], theirs[i]));
      const shared = instance();
      shared.run(bytes, heights);
      const times = { wasm: [], sharp: [] };
      for (let i = 0; i < runs; i++) {
        let start = process.hrtime.bigint();
        shared.run(bytes, heights);
        times.wasm.push(Number(process.hrtime.bigint() - start) / 1e6);
        if (sharpReads) {
          start = process.hrtime.bigint();
          await sharpThumbnails(bytes, heights);
          times.sharp.push(Number(process.hrtime.bigint() - start) / 1e6);
        }
      }
      row.wasm_ms = median(times.wasm);
      row.sharp_ms = sharpReads ? median(times.sharp) : null;
      row.sharp_format = theirs[0].png ? "png" : "jpeg";
    } catch (e) {
      row.error = e.message;
      row.peak_mib = fresh.memoryMiB();
    }
    const tall = instance();
    try {
      tall.run(bytes, [tallest]);
      row.tall = { peak_mib: tall.memoryMiB(), error: null };
    } catch (e) {
      row.tall = { peak_mib: tall.memoryMiB(), error: e.message };
    }
    rows.push(row);
  }
  return rows;
}

export function printFormatRows(rows, tallest) {
  const pad = (s, n) => String(s).padEnd(n);
  const f = (x, d = 1) => (x == null ? "-" : x.toFixed(d));
  console.log(
    "\n" + pad("format file", 34) + pad("in MiB", 8) + pad("wasm ms", 9) + pad("sharp ms", 10) + pad("ratio", 7) +
      pad("fmt", 11) + pad("ssim 200", 10) + pad("ssim 400", 10) + pad("peak MiB", 9) + `at ${tallest} px`,
  );
  for (const r of rows) {
    const tall = r.tall.error ? `refused (${r.tall.error.split(" ")[0]}...)` : `${f(r.tall.peak_mib)} MiB`;
    if (r.error) {
      console.log(pad(r.image, 34) + pad(f(r.input_mib), 8) + `ERROR ${r.error}, peak ${f(r.peak_mib)} MiB`);
      continue;
    }
    console.log(
      pad(r.image, 34) + pad(f(r.input_mib), 8) + pad(f(r.wasm_ms), 9) + pad(f(r.sharp_ms), 10) +
        pad(r.sharp_ms ? f(r.wasm_ms / r.sharp_ms, 2) : "-", 7) + pad(`${r.format}/${r.sharp_format}`, 11) +
        pad(f(r.ssim[0], 4), 10) + pad(f(r.ssim[1], 4), 10) + pad(f(r.peak_mib), 9) + tall,
    );
  }
}
