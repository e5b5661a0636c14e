// Neutral views → Slack messages: a `text` fallback (notifications, screen readers) plus Block Kit blocks. Images
// are not inlined: the surface uploads them first and passes the file ids, shown as `slack_file` image blocks.
import type { ButtonRow, MessageView, ProgressView } from '../../core/types.ts';

/** Block Kit limits (docs.slack.dev, anchors.md §4). */
export const MAX_SECTION_TEXT = 3000;
export const MAX_FIELD_TEXT = 2000;
export const MAX_FIELDS = 10;
export const MAX_BUTTON_TEXT = 75;
export const MAX_ACTION_ID = 255;
export const MAX_ACTIONS = 25;
export const MAX_BLOCKS = 50;

export interface SlackMessage {
  text: string;
  blocks: Block[];
}

/** The subset of Block Kit this bot sends (kept local so render stays a pure function without SDK types). */
export type Block =
  | { type: 'section'; text: TextObject; fields?: TextObject[] }
  | { type: 'section'; fields: TextObject[] }
  | { type: 'context'; elements: TextObject[] }
  | { type: 'image'; slack_file: { id: string }; alt_text: string }
  | { type: 'actions'; elements: ButtonElement[] };
type TextObject = { type: 'mrkdwn'; text: string } | { type: 'plain_text'; text: string; emoji?: boolean };
interface ButtonElement {
  type: 'button';
  text: { type: 'plain_text'; text: string; emoji: true };
  action_id: string;
  style?: 'primary' | 'danger';
}

/** Slack mrkdwn treats `&`, `<`, `>` as control characters; everything user-typed goes through this. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

const mrkdwn = (text: string, max = MAX_SECTION_TEXT): TextObject => ({ type: 'mrkdwn', text: cut(text, max) });

export function renderButtons(rows: readonly ButtonRow[] | undefined): Block[] {
  return (rows ?? [])
    .filter((row) => row.length > 0)
    .map((row) => {
      if (row.length > MAX_ACTIONS) throw new RangeError(`Expected at most ${MAX_ACTIONS} buttons in an actions block, got ${row.length}`);
      return {
        type: 'actions' as const,
        elements: row.map((b): ButtonElement => {
          if (b.id.length === 0 || b.id.length > MAX_ACTION_ID) {
            throw new RangeError(`Expected a button id of 1 to ${MAX_ACTION_ID} characters, got ${b.id.length} (\`${b.id.slice(0, 40)}…\`)`);
          }
          return {
            type: 'button',
            text: { type: 'plain_text', text: cut(b.label, MAX_BUTTON_TEXT), emoji: true },
            action_id: b.id,
            ...(b.style !== 'secondary' && { style: b.style }),
          };
        }),
      };
    });
}

/** File ids of the images this view shows, uploaded by the surface beforehand. */
export interface ViewFiles {
  /** The running job's latest uploaded preview (may be older than `view.preview`: previews upload less often). */
  preview?: string;
  /** The finished grid or upscale. */
  image?: string;
}

export function renderProgress(view: ProgressView, files: ViewFiles = {}): SlackMessage {
  const job = view.job;
  const title = escapeMrkdwn(view.title.replace(/\s+/g, ' '));
  const flags = job.flags ? ` \`${escapeMrkdwn(job.flags)}\`` : '';
  const lineage = job.parent ? ` · ${escapeMrkdwn(job.parent.action)} of \`${job.parent.jobId}\`` : '';
  const blocks: Block[] = [
    { type: 'section', text: mrkdwn(`*${title}*${flags}`) },
    { type: 'context', elements: [mrkdwn(`<@${job.ownerId}> · ${escapeMrkdwn(view.status)} · \`${job.jobId}\`${lineage}`)] },
  ];
  if (view.state === 'running' && files.preview) blocks.push({ type: 'image', slack_file: { id: files.preview }, alt_text: cut(`preview: ${view.title}`, 2000) });
  if (view.state === 'done') {
    if (files.image) blocks.push({ type: 'image', slack_file: { id: files.image }, alt_text: cut(view.title, 2000) });
    if (view.warnings.length > 0) blocks.push({ type: 'context', elements: [mrkdwn(view.warnings.map((w) => `⚠️ ${escapeMrkdwn(w)}`).join('\n'))] });
  }
  if (view.state === 'done' || view.state === 'failed') blocks.push(...renderButtons(view.buttons));
  // `text` is parsed as mrkdwn too (notifications), so it is escaped like the blocks.
  return { text: cut(escapeMrkdwn(`${view.title} — ${view.status}`), 3000), blocks };
}

export function renderMessage(view: MessageView, imageFileId?: string): SlackMessage {
  const icon = view.tone === 'error' ? '⚠️ ' : '';
  const text = icon + view.text;
  const blocks: Block[] = [];
  // Long texts (help) are split on line breaks into sections of at most 3000 characters.
  let chunk = '';
  for (const line of escapeMrkdwn(text).split('\n')) {
    if (chunk && chunk.length + line.length + 1 > MAX_SECTION_TEXT) {
      blocks.push({ type: 'section', text: mrkdwn(chunk) });
      chunk = '';
    }
    chunk = chunk ? `${chunk}\n${line}` : line;
  }
  if (chunk.trim()) blocks.push({ type: 'section', text: mrkdwn(chunk) });
  const fields = (view.fields ?? []).map((f) => mrkdwn(`*${escapeMrkdwn(f.name)}*\n${escapeMrkdwn(f.value)}`, MAX_FIELD_TEXT));
  for (let i = 0; i < fields.length; i += MAX_FIELDS) blocks.push({ type: 'section', fields: fields.slice(i, i + MAX_FIELDS) });
  if (imageFileId) blocks.push({ type: 'image', slack_file: { id: imageFileId }, alt_text: cut(view.text, 2000) });
  blocks.push(...renderButtons(view.buttons));
  const fallback = [text, ...(view.fields ?? []).map((f) => `${f.name}: ${f.value}`)].join('\n');
  return { text: cut(escapeMrkdwn(fallback), 3000), blocks: blocks.slice(0, MAX_BLOCKS) };
}
