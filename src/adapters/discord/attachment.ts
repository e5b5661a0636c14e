// Fit an image into the interaction's `attachment_size_limit`: PNG as is, else lossless WebP, else JPEG at falling
// quality, else JPEG at smaller sizes. Discord rejects an oversized file with 40005 and the whole edit is lost.
import sharp from 'sharp';
import type { PngImage } from '../../core/types.ts';
import { BotError, ErrorCode } from '../../core/errors.ts';

export interface EncodedFile {
  name: string;
  data: Buffer;
  contentType: string;
}

const JPEG_QUALITIES = [90, 80, 70, 55, 40];

const rename = (filename: string, ext: string) => filename.replace(/\.[a-z0-9]+$/i, '') + ext;

export async function fitAttachment(image: PngImage, limit: number): Promise<EncodedFile> {
  const png = Buffer.from(image.png.buffer, image.png.byteOffset, image.png.byteLength);
  if (png.length <= limit) return { name: image.filename, data: png, contentType: 'image/png' };
  const webp = await sharp(png).webp({ lossless: true, effort: 4 }).toBuffer();
  if (webp.length <= limit) return { name: rename(image.filename, '.webp'), data: webp, contentType: 'image/webp' };
  for (let scale = 1; scale >= 1 / 16; scale /= 2) {
    const resized = scale === 1 ? sharp(png) : sharp(png).resize(Math.max(1, Math.round(image.width * scale)));
    for (const quality of JPEG_QUALITIES) {
      const jpeg = await resized.clone().flatten({ background: '#ffffff' }).jpeg({ quality }).toBuffer();
      if (jpeg.length <= limit) return { name: rename(image.filename, '.jpg'), data: jpeg, contentType: 'image/jpeg' };
    }
  }
  throw new BotError(
    ErrorCode.Unknown,
    `Cannot fit a ${image.width}×${image.height} image into ${limit} bytes`,
    `This image is too large for this channel's upload limit (${Math.round(limit / 1024)} KiB).`,
  );
}
