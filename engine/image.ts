// RgbImage encoding, decoding, resizing and 2×2 grids (sharp for codecs and resampling, plain loops for grids).
import sharp from 'sharp';
import { EngineError, EngineErrorCode } from './errors.ts';
import type { RgbImage } from './types.ts';

export type ImageMime = 'image/png' | 'image/webp' | 'image/jpeg';

export interface EncodedImage {
  readonly data: Buffer;
  readonly mime: ImageMime;
}

// Below ~10 JPEG artefacts dominate; a limit that needs less is better met by a smaller image.
const JPEG_QUALITIES = [95, 90, 85, 80, 75, 70, 60, 50, 40, 30, 20, 10];

export async function encodePng(img: RgbImage): Promise<Buffer> {
  return fromRgb(img).png().toBuffer();
}

/** Decodes any format sharp reads (PNG, JPEG, WebP, GIF, AVIF, TIFF…) to 8-bit RGB, EXIF-rotated, alpha dropped. */
export async function decodeImage(buf: Uint8Array): Promise<RgbImage> {
  try {
    // rotate(): apply EXIF orientation like diffusers' load_image (exif_transpose); removeAlpha matches PIL convert('RGB').
    const { data, info } = await sharp(buf)
      .rotate()
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (error) {
    throw new EngineError(
      EngineErrorCode.InvalidInput,
      `Expected an image file (PNG, JPEG, WebP, GIF, AVIF or TIFF), got ${buf.length} bytes that could not be decoded: ` +
        `${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** Stretches to exactly width×height (diffusers' default resize), Lanczos like its PIL path. */
export async function resizeImage(img: RgbImage, width: number, height: number): Promise<RgbImage> {
  for (const [name, value] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw invalid(`Expected \`${name}\` to be a positive integer, got \`${value}\` (${typeof value}).`);
    }
  }
  if (img.width === width && img.height === height) return img;
  const { data } = await fromRgb(img)
    .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/**
 * Tiles same-size images row by row, `columns` wide, with no gaps: 4 images → 2×2, 2 → 2×1, 3 → 2×2 with the
 * last cell black.
 */
export function composeGrid(images: readonly RgbImage[], columns = 2): RgbImage {
  if (images.length === 0) throw invalid('Expected at least one image for the grid, got none.');
  if (!Number.isInteger(columns) || columns < 1) {
    throw invalid(`Expected \`columns\` to be a positive integer, got \`${columns}\` (${typeof columns}).`);
  }
  const { width, height } = images[0];
  images.forEach((img, i) => {
    checkImage(img, `images[${i}]`);
    if (img.width !== width || img.height !== height) {
      throw invalid(
        `Expected every grid image to be ${width}×${height} like images[0], got ${img.width}×${img.height} at images[${i}].`,
      );
    }
  });
  const cols = Math.min(columns, images.length);
  const rows = Math.ceil(images.length / cols);
  const gridWidth = cols * width;
  const data = new Uint8Array(gridWidth * rows * height * 3);
  const rowBytes = width * 3;
  images.forEach((img, i) => {
    const x0 = (i % cols) * width;
    const y0 = Math.floor(i / cols) * height;
    for (let y = 0; y < height; y++) {
      data.set(img.data.subarray(y * rowBytes, (y + 1) * rowBytes), ((y0 + y) * gridWidth + x0) * 3);
    }
  });
  return { width: gridWidth, height: rows * height, data };
}

/** Cell `index` (row-major, 0-based) of a grid of `cols`×`rows` equal cells. */
export function cropGridCell(grid: RgbImage, index: number, cols: number, rows: number): RgbImage {
  checkImage(grid, 'grid');
  if (!Number.isInteger(cols) || cols < 1 || !Number.isInteger(rows) || rows < 1) {
    throw invalid(`Expected \`cols\` and \`rows\` to be positive integers, got ${cols} and ${rows}.`);
  }
  if (!Number.isInteger(index) || index < 0 || index >= cols * rows) {
    throw invalid(`Expected \`index\` to be an integer from 0 to ${cols * rows - 1}, got \`${index}\`.`);
  }
  if (grid.width % cols !== 0 || grid.height % rows !== 0) {
    throw invalid(`Expected a ${grid.width}×${grid.height} grid to split evenly into ${cols}×${rows} cells.`);
  }
  const width = grid.width / cols;
  const height = grid.height / rows;
  const x0 = (index % cols) * width;
  const y0 = Math.floor(index / cols) * height;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const start = ((y0 + y) * grid.width + x0) * 3;
    data.set(grid.data.subarray(start, start + width * 3), y * width * 3);
  }
  return { width, height, data };
}

/**
 * The best encoding that fits `maxBytes` (chat upload limits): PNG, else lossless WebP, else JPEG at decreasing
 * quality. Fails when even the lowest JPEG quality is too big.
 */
export async function encodeForSizeLimit(img: RgbImage, maxBytes: number): Promise<EncodedImage> {
  if (!(maxBytes > 0)) throw invalid(`Expected \`maxBytes\` to be a positive number, got \`${maxBytes}\` (${typeof maxBytes}).`);
  const png = await encodePng(img);
  if (png.length <= maxBytes) return { data: png, mime: 'image/png' };
  const webp = await fromRgb(img).webp({ lossless: true }).toBuffer();
  if (webp.length <= maxBytes) return { data: webp, mime: 'image/webp' };
  let smallest = Infinity;
  for (const quality of JPEG_QUALITIES) {
    const jpeg = await fromRgb(img).jpeg({ quality }).toBuffer();
    if (jpeg.length <= maxBytes) return { data: jpeg, mime: 'image/jpeg' };
    smallest = jpeg.length;
  }
  throw invalid(
    `Could not fit a ${img.width}×${img.height} image into ${maxBytes} bytes: PNG is ${png.length}, lossless WebP ` +
      `${webp.length}, JPEG at quality ${JPEG_QUALITIES.at(-1)} ${smallest}. Raise the limit or send a smaller image.`,
  );
}

function fromRgb(img: RgbImage): sharp.Sharp {
  checkImage(img, 'image');
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });
}

function checkImage(img: RgbImage, name: string): void {
  if (!Number.isInteger(img.width) || img.width < 1 || !Number.isInteger(img.height) || img.height < 1) {
    throw invalid(`Expected ${name} to have a positive integer width and height, got ${img.width}×${img.height}.`);
  }
  if (img.data.length !== img.width * img.height * 3) {
    throw invalid(
      `Expected ${name} data to hold width × height × 3 = ${img.width * img.height * 3} bytes (RGB), got ${img.data.length}.`,
    );
  }
}

function invalid(message: string): EngineError {
  return new EngineError(EngineErrorCode.InvalidInput, message);
}
