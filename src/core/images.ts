// PNG encoding, decoding and the 2×2 grid, with sharp. Images cross the core as raw RGB (the engine's `RgbImage`)
// and leave it as PNG.
import sharp from 'sharp';
import type { RgbImage } from '../../engine/index.ts';

export async function encodePng(image: RgbImage): Promise<Uint8Array> {
  const buffer = await sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width: image.width, height: image.height, channels: 3 },
  })
    .png({ compressionLevel: 6 })
    .toBuffer();
  return new Uint8Array(buffer);
}

/** Decode a PNG to raw RGB, optionally resized (Lanczos) to `width`×`height`. */
export async function decodePng(png: Uint8Array, size?: { width: number; height: number }): Promise<RgbImage> {
  let pipeline = sharp(Buffer.from(png)).removeAlpha();
  if (size) pipeline = pipeline.resize(size.width, size.height, { fit: 'fill', kernel: 'lanczos3' });
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** 1 image: itself; 2: side by side; 3–4: a 2×2 grid (an empty cell stays dark grey). */
export function grid(images: readonly RgbImage[]): RgbImage {
  if (images.length === 1) return images[0];
  const { width, height } = images[0];
  const cols = 2;
  const rows = images.length <= 2 ? 1 : 2;
  const out = new Uint8Array(cols * width * rows * height * 3).fill(32);
  images.forEach((image, i) => {
    const ox = (i % cols) * width;
    const oy = Math.floor(i / cols) * height;
    for (let y = 0; y < height; y++) {
      const from = y * width * 3;
      out.set(image.data.subarray(from, from + width * 3), ((oy + y) * cols * width + ox) * 3);
    }
  });
  return { width: cols * width, height: rows * height, data: out };
}

/** A tiny thumbnail (8×8 RGB means) used to tell whether two previews differ enough to be worth sending. */
export function signature(image: RgbImage): Float32Array {
  const n = 8;
  const sums = new Float32Array(n * n * 3);
  const counts = new Float32Array(n * n);
  for (let y = 0; y < image.height; y++) {
    const cy = Math.min(n - 1, Math.floor((y * n) / image.height));
    for (let x = 0; x < image.width; x++) {
      const cell = cy * n + Math.min(n - 1, Math.floor((x * n) / image.width));
      counts[cell]++;
      for (let c = 0; c < 3; c++) sums[cell * 3 + c] += image.data[(y * image.width + x) * 3 + c];
    }
  }
  for (let i = 0; i < n * n; i++) for (let c = 0; c < 3; c++) sums[i * 3 + c] /= Math.max(1, counts[i]);
  return sums;
}

/** Mean absolute difference of two signatures, 0..255. */
export function signatureDistance(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}
