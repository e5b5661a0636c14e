import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { EngineError } from '../../engine/errors.ts';
import {
  composeGrid,
  cropGridCell,
  decodeImage,
  encodeForSizeLimit,
  encodePng,
  resizeImage,
} from '../../engine/image.ts';
import type { RgbImage } from '../../engine/types.ts';

type Rgb = readonly [number, number, number];

const solid = (width: number, height: number, [r, g, b]: Rgb): RgbImage => {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i += 3) data.set([r, g, b], i);
  return { width, height, data };
};

/** A gradient with a little deterministic noise: compresses like a small photo. */
const textured = (width: number, height: number, noise = 4): RgbImage => {
  const data = new Uint8Array(width * height * 3);
  let s = 7;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        data[(y * width + x) * 3 + c] = Math.min(255, ((x * 4 + y * 2 + c * 60) & 255) + ((s >>> 24) % (noise + 1)));
      }
    }
  }
  return { width, height, data };
};

const pixel = (img: RgbImage, x: number, y: number): Rgb => {
  const i = (y * img.width + x) * 3;
  return [img.data[i], img.data[i + 1], img.data[i + 2]];
};

const isPng = (b: Buffer) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
const isWebp = (b: Buffer) => b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP';
const isJpeg = (b: Buffer) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;

const RED: Rgb = [255, 0, 0];
const GREEN: Rgb = [0, 255, 0];
const BLUE: Rgb = [0, 0, 255];
const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];

describe('encodePng / decodeImage', () => {
  test('PNG round trip keeps every pixel (odd, non-square size)', async () => {
    const img = textured(17, 9, 255);
    const png = await encodePng(img);
    assert.ok(isPng(png));
    const back = await decodeImage(png);
    assert.equal(back.width, 17);
    assert.equal(back.height, 9);
    assert.deepEqual(Buffer.from(back.data), Buffer.from(img.data));
  });

  test('grey and RGBA inputs decode to RGB (alpha dropped, as PIL convert("RGB"))', async () => {
    const grey = await sharp(Buffer.alloc(15, 100), { raw: { width: 5, height: 3, channels: 1 } }).png().toBuffer();
    const g = await decodeImage(grey);
    assert.equal(g.data.length, 5 * 3 * 3);
    assert.ok(g.data.every((v) => v === 100));

    const rgba = Buffer.from([10, 20, 30, 0, 40, 50, 60, 255]);
    const decoded = await decodeImage(await sharp(rgba, { raw: { width: 2, height: 1, channels: 4 } }).png().toBuffer());
    assert.deepEqual([...decoded.data], [10, 20, 30, 40, 50, 60]);
  });

  test('JPEG and WebP decode too', async () => {
    const img = solid(16, 8, [200, 100, 50]);
    const raw = sharp(img.data, { raw: { width: 16, height: 8, channels: 3 } });
    for (const buf of [await raw.clone().jpeg({ quality: 95 }).toBuffer(), await raw.clone().webp({ lossless: true }).toBuffer()]) {
      const back = await decodeImage(buf);
      assert.equal(back.width, 16);
      assert.equal(back.height, 8);
      const [r, g, b] = pixel(back, 7, 3);
      assert.ok(Math.abs(r - 200) <= 3 && Math.abs(g - 100) <= 3 && Math.abs(b - 50) <= 3, `${r},${g},${b}`);
    }
  });

  test('applies EXIF orientation', async () => {
    // A 4×2 image stored with orientation 6 (rotate 90° clockwise to display) shows as 2×4.
    const stored = await sharp(solid(4, 2, RED).data, { raw: { width: 4, height: 2, channels: 3 } })
      .withMetadata({ orientation: 6 })
      .jpeg()
      .toBuffer();
    const shown = await decodeImage(stored);
    assert.equal(shown.width, 2);
    assert.equal(shown.height, 4);
  });

  test('bytes that are no image fail with a coded error', async () => {
    await assert.rejects(decodeImage(Buffer.from('not an image')), (error: unknown) => {
      assert.ok(error instanceof EngineError);
      assert.equal(error.code, 'sd_engine_invalid_input');
      assert.match(error.message, /Expected an image file.*12 bytes/);
      return true;
    });
  });

  test('an RgbImage whose data length is wrong is rejected', async () => {
    await assert.rejects(encodePng({ width: 2, height: 2, data: new Uint8Array(11) }), /width × height × 3 = 12 bytes \(RGB\), got 11/);
  });
});

describe('resizeImage', () => {
  test('stretches to the exact size and keeps a solid colour', async () => {
    const out = await resizeImage(solid(8, 4, [10, 200, 30]), 16, 24);
    assert.equal(out.width, 16);
    assert.equal(out.height, 24);
    assert.equal(out.data.length, 16 * 24 * 3);
    for (let y = 0; y < 24; y += 5) for (let x = 0; x < 16; x += 5) assert.deepEqual(pixel(out, x, y), [10, 200, 30]);
  });

  test('keeps left/right halves where they were', async () => {
    const img = composeGrid([solid(8, 8, RED), solid(8, 8, BLUE)]);
    const out = await resizeImage(img, 8, 4);
    assert.deepEqual(pixel(out, 0, 2), RED);
    assert.deepEqual(pixel(out, 7, 2), BLUE);
  });

  test('rejects a non-integer size', async () => {
    await assert.rejects(resizeImage(solid(2, 2, RED), 0, 4), /`width` to be a positive integer, got `0`/);
  });
});

describe('composeGrid / cropGridCell', () => {
  const colours = [RED, GREEN, BLUE, WHITE];

  test('4 images make a 2×2 grid with no gaps, row-major', () => {
    const w = 6;
    const h = 4;
    const grid = composeGrid(colours.map((c) => solid(w, h, c)));
    assert.equal(grid.width, 2 * w);
    assert.equal(grid.height, 2 * h);
    for (let y = 0; y < grid.height; y++) {
      for (let x = 0; x < grid.width; x++) {
        const cell = Math.floor(y / h) * 2 + Math.floor(x / w);
        assert.deepEqual(pixel(grid, x, y), colours[cell], `pixel ${x},${y}`);
      }
    }
  });

  test('1, 2 and 3 images: 1×1, 2×1, and 2×2 with a black last cell', () => {
    const one = composeGrid([solid(5, 3, RED)]);
    assert.deepEqual([one.width, one.height], [5, 3]);
    assert.deepEqual(pixel(one, 4, 2), RED);

    const two = composeGrid([solid(5, 3, RED), solid(5, 3, GREEN)]);
    assert.deepEqual([two.width, two.height], [10, 3]);
    assert.deepEqual(pixel(two, 4, 0), RED);
    assert.deepEqual(pixel(two, 5, 0), GREEN);

    const three = composeGrid([solid(5, 3, RED), solid(5, 3, GREEN), solid(5, 3, BLUE)]);
    assert.deepEqual([three.width, three.height], [10, 6]);
    assert.deepEqual(pixel(three, 0, 3), BLUE);
    assert.deepEqual(pixel(three, 4, 5), BLUE);
    assert.deepEqual(pixel(three, 5, 3), BLACK);
    assert.deepEqual(pixel(three, 9, 5), BLACK);
  });

  test('columns sets the width: 4 in a row', () => {
    const row = composeGrid(
      colours.map((c) => solid(3, 2, c)),
      4,
    );
    assert.deepEqual([row.width, row.height], [12, 2]);
    colours.forEach((c, i) => assert.deepEqual(pixel(row, i * 3 + 1, 1), c));
  });

  test('cropGridCell gives back each original image', () => {
    const images = [textured(7, 5), solid(7, 5, GREEN), textured(7, 5, 255), solid(7, 5, WHITE)];
    const grid = composeGrid(images);
    images.forEach((img, i) => {
      const cell = cropGridCell(grid, i, 2, 2);
      assert.deepEqual([cell.width, cell.height], [7, 5]);
      assert.deepEqual(Buffer.from(cell.data), Buffer.from(img.data), `cell ${i}`);
    });
  });

  test('mismatched sizes and bad cells are rejected', () => {
    assert.throws(() => composeGrid([solid(4, 4, RED), solid(4, 5, RED)]), /be 4×4 like images\[0\], got 4×5 at images\[1\]/);
    assert.throws(() => composeGrid([]), /at least one image/);
    const grid = composeGrid(colours.map((c) => solid(2, 2, c)));
    assert.throws(() => cropGridCell(grid, 4, 2, 2), /`index` to be an integer from 0 to 3, got `4`/);
    assert.throws(() => cropGridCell(grid, 0, 3, 2), /split evenly into 3×2/);
  });
});

describe('encodeForSizeLimit', () => {
  // Sizes of this image: PNG ≈ 9 kB, lossless WebP ≈ 3.5 kB, JPEG q95 ≈ 1.9 kB, q10 ≈ 0.45 kB.
  const img = textured(64, 48);

  test('the fixture image orders the formats as the fallback expects', async () => {
    const png = await encodePng(img);
    const webp = await sharp(img.data, { raw: { width: 64, height: 48, channels: 3 } }).webp({ lossless: true }).toBuffer();
    assert.ok(png.length > webp.length + 1000, `png ${png.length}, webp ${webp.length}`);
  });

  test('PNG when it fits', async () => {
    const { data, mime } = await encodeForSizeLimit(img, 1_000_000);
    assert.equal(mime, 'image/png');
    assert.ok(isPng(data));
    assert.deepEqual(Buffer.from((await decodeImage(data)).data), Buffer.from(img.data));
  });

  test('lossless WebP when PNG is too big', async () => {
    const png = await encodePng(img);
    const { data, mime } = await encodeForSizeLimit(img, png.length - 1);
    assert.equal(mime, 'image/webp');
    assert.ok(isWebp(data));
    assert.ok(data.length < png.length);
    assert.deepEqual(Buffer.from((await decodeImage(data)).data), Buffer.from(img.data), 'lossless');
  });

  test('JPEG, at lower quality as the limit shrinks', async () => {
    const roomy = await encodeForSizeLimit(img, 2500);
    assert.equal(roomy.mime, 'image/jpeg');
    assert.ok(isJpeg(roomy.data));
    assert.ok(roomy.data.length <= 2500);

    const tight = await encodeForSizeLimit(img, 700);
    assert.equal(tight.mime, 'image/jpeg');
    assert.ok(tight.data.length <= 700);
    assert.ok(tight.data.length < roomy.data.length);
    const decoded = await decodeImage(tight.data);
    assert.deepEqual([decoded.width, decoded.height], [64, 48]);
  });

  test('fails, naming the sizes, when nothing fits', async () => {
    await assert.rejects(encodeForSizeLimit(img, 100), (error: unknown) => {
      assert.ok(error instanceof EngineError);
      assert.equal(error.code, 'sd_engine_invalid_input');
      assert.match(error.message, /64×48 image into 100 bytes: PNG is \d+, lossless WebP \d+, JPEG at quality 10 \d+/);
      return true;
    });
  });
});
