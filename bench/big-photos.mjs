// Camera-sized JPEGs (48-100 MP, 15-34 MB) for imaging.mjs, made once into generated/big/.
//
// The bench photos are at most 24 MP, and an upscaled photo is smooth, so it compresses to a
// fraction of a camera's file: a decoder's time goes with the entropy-coded bytes as much as
// with the pixels. Grain (monochrome, plus a little per channel) brings each file to the size
// a camera writes at that resolution and quality (issue 18: a 48 MP JPEG at quality 92 is
// 15-16 MB, a 40 MP 4:4:4 one at quality 95 about 34 MB). The noise comes from a fixed seed, so
// the same sharp/libvips version makes the same bytes; files already present are kept.

import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";

const SEED = 18; // issue 18

/** What each file is and how it is made; `grain`/`chroma` chosen for the camera's file size. */
export const BIG_PHOTOS = [
  // 8064x6048: a phone's 48 MP mode.
  { name: "big-48mp-baseline.jpg", from: "kleiber-24mp.jpg", width: 8064, height: 6048, quality: 92, grain: 12, chroma: 4 },
  { name: "big-48mp-progressive.jpg", from: "seeding-12mp.jpg", width: 8064, height: 6048, quality: 92, progressive: true, grain: 14, chroma: 4 },
  // 9504x6336: a 61 MP full-frame camera (Sony A7R IV/V).
  { name: "big-61mp-baseline.jpg", from: "kleiber-24mp.jpg", width: 9504, height: 6336, quality: 92, grain: 11, chroma: 4 },
  // 11520x8640: just under the 100 MP limit (a GFX100's 11648x8736 is 101.8 MP).
  { name: "big-100mp-baseline.jpg", from: "dragonfly-13mp-progressive.jpg", width: 11520, height: 8640, quality: 92, grain: 6, chroma: 3 },
  // 7728x5152: a 40 MP APS-C camera (Fujifilm X-T5) at its finest setting.
  { name: "big-40mp-444-progressive.jpg", from: "seeding-12mp.jpg", width: 7728, height: 5152, quality: 95, progressive: true, subsampling: "4:4:4", grain: 38, chroma: 15 },
];

/** mulberry32: a small seeded generator, so the grain is the same on every run. */
function generator(seed) {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Paths of the big photos in `here`/generated/big, made from the photos in `images` if missing. */
export async function bigPhotos(here, images) {
  const paths = [];
  for (const photo of BIG_PHOTOS) paths.push(await bigPhoto(here, images, photo.name));
  return paths;
}

/** The path of one of the big photos (by name), made as `bigPhotos` makes it if missing. */
export async function bigPhoto(here, images, name) {
  const photo = BIG_PHOTOS.find((p) => p.name === name);
  if (!photo) throw new Error(`no big photo named ${name}`);
  const dir = join(here, "generated", "big");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, photo.name);
  if (!existsSync(path)) await make(photo, join(images, photo.from), path);
  return path;
}

async function make(photo, source, path) {
  const { width, height } = photo;
  const pixels = await sharp(source)
    .resize(width, height, { fit: "cover", kernel: "lanczos3" })
    .removeAlpha()
    .raw()
    .toBuffer();
  const random = generator(SEED);
  for (let i = 0; i < pixels.length; i += 3) {
    // The sum of three uniforms: close to a normal, as film and sensor grain are.
    const grain = photo.grain * (random() + random() + random() - 1.5);
    for (let c = 0; c < 3; c++) {
      const value = pixels[i + c] + grain + photo.chroma * (random() - 0.5);
      pixels[i + c] = value < 0 ? 0 : value > 255 ? 255 : value;
    }
  }
  await sharp(pixels, { raw: { width, height, channels: 3 }, limitInputPixels: false })
    .jpeg({
      quality: photo.quality,
      progressive: !!photo.progressive,
      chromaSubsampling: photo.subsampling ?? "4:2:0",
    })
    .toFile(path);
}
