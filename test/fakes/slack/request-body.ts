// Decodes a request to the fake the way Slack's Web API accepts it: form-encoded (what @slack/web-api sends), JSON
// (what `respond()` and some clients send) or multipart (the upload URL, and Web API calls that carry a Buffer).
import type { IncomingMessage } from 'node:http';

export interface FilePart {
  readonly field: string;
  readonly filename: string;
  readonly bytes: Buffer;
}

export interface DecodedBody {
  readonly contentType: string;
  readonly raw: Buffer;
  /** Scalars stay strings for form and multipart bodies, exactly as they arrived on the wire. */
  readonly args: Record<string, unknown>;
  readonly files: FilePart[];
  /** Set when the body could not be parsed at all. */
  readonly parseError?: string;
}

export async function readRaw(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function decodeBody(req: IncomingMessage, raw: Buffer): Promise<DecodedBody> {
  const contentType = String(req.headers['content-type'] ?? '');
  const mediaType = contentType.split(';')[0].trim().toLowerCase();
  try {
    if (mediaType === 'application/x-www-form-urlencoded') {
      return { contentType, raw, args: Object.fromEntries(new URLSearchParams(raw.toString('utf8'))), files: [] };
    }
    if (mediaType === 'application/json') {
      const parsed: unknown = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        return { contentType, raw, args: {}, files: [], parseError: 'the JSON body is not an object' };
      }
      return { contentType, raw, args: parsed as Record<string, unknown>, files: [] };
    }
    if (mediaType === 'multipart/form-data') {
      // undici's multipart parser (the same one fetch uses) keeps this file free of a hand-rolled one.
      const form = await new Request('http://fake.invalid/', { method: 'POST', headers: { 'content-type': contentType }, body: raw }).formData();
      const args: Record<string, unknown> = {};
      const files: FilePart[] = [];
      for (const [field, value] of form.entries()) {
        if (typeof value === 'string') args[field] = value;
        else files.push({ field, filename: value.name, bytes: Buffer.from(await value.arrayBuffer()) });
      }
      return { contentType, raw, args, files };
    }
    return { contentType, raw, args: {}, files: [] };
  } catch (error) {
    return { contentType, raw, args: {}, files: [], parseError: (error as Error).message };
  }
}

/** Slack parses these form fields as JSON; a string that is not valid JSON stays a string and fails the schema. */
export function decodeJsonFields(args: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const out = { ...args };
  for (const field of fields) {
    const value = out[field];
    if (typeof value !== 'string') continue;
    try {
      out[field] = JSON.parse(value);
    } catch {
      // left as a string on purpose
    }
  }
  return out;
}
