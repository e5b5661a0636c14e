// Conversions between 8-bit interleaved RGB images and planar float tensors (NCHW).
import type { RgbImage } from './types.ts';

/** RGB bytes → [1, 3, H, W] in [-1, 1], as diffusers' VaeImageProcessor.preprocess (x/255·2 − 1). */
export function rgbToPlanar(image: RgbImage): Float32Array {
  const plane = image.width * image.height;
  const out = new Float32Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[c * plane + p] = (image.data[p * 3 + c] / 255) * 2 - 1;
  }
  return out;
}

/**
 * One image of an NCHW float batch in [lo, hi] → RGB bytes: clamp, then round(x·255) half to even, as numpy does
 * in diffusers' numpy_to_pil (a Uint8ClampedArray store clamps and rounds that way natively, and fast).
 * `offset` is the index of the image's first value.
 */
export function planarToRgb(pixels: Float32Array, height: number, width: number, lo: number, hi: number, offset = 0): RgbImage {
  const plane = height * width;
  const data = new Uint8Array(plane * 3);
  const clamped = new Uint8ClampedArray(data.buffer);
  const scale = 255 / (hi - lo);
  const shift = -lo * scale;
  // One pass writing whole pixels (sequential stores) beats one pass per channel.
  const r = offset;
  const g = offset + plane;
  const b = offset + 2 * plane;
  for (let p = 0, o = 0; p < plane; p++, o += 3) {
    clamped[o] = pixels[r + p] * scale + shift;
    clamped[o + 1] = pixels[g + p] * scale + shift;
    clamped[o + 2] = pixels[b + p] * scale + shift;
  }
  return { width, height, data };
}
