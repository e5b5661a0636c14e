// Nearest-neighbour upscaled tiling for the evaluation's contact sheet.
import type { RgbImage } from '../../engine/index.ts';

/** Tiles equally sized images into `columns` columns with a `gap`-pixel white border, scaled up by `scale`. */
export function tile(images: readonly RgbImage[], columns: number, scale = 1, gap = 2): RgbImage {
  const w = images[0].width * scale;
  const h = images[0].height * scale;
  const rows = Math.ceil(images.length / columns);
  const W = columns * w + (columns + 1) * gap;
  const H = rows * h + (rows + 1) * gap;
  const data = new Uint8Array(W * H * 3).fill(255);
  images.forEach((img, i) => {
    const ox = gap + (i % columns) * (w + gap);
    const oy = gap + Math.floor(i / columns) * (h + gap);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const s = (Math.floor(y / scale) * img.width + Math.floor(x / scale)) * 3;
        const d = ((oy + y) * W + ox + x) * 3;
        data[d] = img.data[s];
        data[d + 1] = img.data[s + 1];
        data[d + 2] = img.data[s + 2];
      }
    }
  });
  return { width: W, height: H, data };
}
