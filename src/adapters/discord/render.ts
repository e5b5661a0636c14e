// Neutral views → Discord message bodies: markdown content, action rows of buttons, and the image to upload.
import { ButtonStyle, ComponentType, type APIActionRowComponent, type APIButtonComponentWithCustomId } from 'discord.js';
import type { ButtonRow, MessageView, PngImage, ProgressView } from '../../core/types.ts';

export const MAX_CONTENT = 2000;
export const MAX_BUTTONS_PER_ROW = 5;
export const MAX_ROWS = 5;
export const MAX_CUSTOM_ID = 100;

export interface RenderedMessage {
  content: string;
  components: APIActionRowComponent<APIButtonComponentWithCustomId>[];
  /** The image to attach; `undefined` = the message shows none (old attachments are removed). */
  image?: PngImage;
}

const styles = { primary: ButtonStyle.Primary, secondary: ButtonStyle.Secondary, danger: ButtonStyle.Danger } as const;
// A label that is a single emoji renders as the button's emoji, the way Midjourney shows 🔄.
const EMOJI_ONLY = /^\p{Extended_Pictographic}\uFE0F?$/u;

export function renderButtons(rows: readonly ButtonRow[] | undefined): RenderedMessage['components'] {
  if (!rows) return [];
  if (rows.length > MAX_ROWS) throw new RangeError(`Expected at most ${MAX_ROWS} button rows, got ${rows.length}`);
  return rows
    .filter((row) => row.length > 0)
    .map((row) => {
      if (row.length > MAX_BUTTONS_PER_ROW) throw new RangeError(`Expected at most ${MAX_BUTTONS_PER_ROW} buttons in a row, got ${row.length}`);
      return {
        type: ComponentType.ActionRow,
        components: row.map((b): APIButtonComponentWithCustomId => {
          if (b.id.length === 0 || b.id.length > MAX_CUSTOM_ID) {
            throw new RangeError(`Expected a button id of 1 to ${MAX_CUSTOM_ID} characters, got ${b.id.length} (\`${b.id.slice(0, 40)}…\`)`);
          }
          const base = { type: ComponentType.Button as const, custom_id: b.id, style: styles[b.style] };
          return EMOJI_ONLY.test(b.label) ? { ...base, emoji: { name: b.label } } : { ...base, label: b.label.slice(0, 80) };
        }),
      };
    });
}

/** Discord markdown would turn `*`, `_`, `~`, `` ` ``, `|` in prompts into formatting; newlines would break the header. */
export function escapeMarkdown(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/([\\*_~`|])/g, '\\$1');
}

function fit(head: string, tail: string): string {
  const room = MAX_CONTENT - tail.length;
  return (head.length > room ? head.slice(0, Math.max(0, room - 1)) + '…' : head) + tail;
}

export function renderProgress(view: ProgressView, note?: string): RenderedMessage {
  const job = view.job;
  // The neutral status may already name the parent and the job; say each only once.
  const lineage = job.parent && !view.status.includes(job.parent.jobId) ? ` — ${job.parent.action} of \`${job.parent.jobId}\`` : '';
  const jobTag = view.status.includes(job.jobId) ? '' : ` \`${job.jobId}\``;
  const head = `**${escapeMarkdown(view.title)}**${job.flags ? ` ${escapeMarkdown(job.flags)}` : ''}`;
  const extra: string[] = [];
  if (view.state === 'done' && view.warnings.length > 0) extra.push(...view.warnings.map((w) => `⚠️ ${w}`));
  if (note && view.state !== 'done' && view.state !== 'failed' && view.state !== 'cancelled') extra.push(note);
  const tail = `${lineage} - <@${job.ownerId}> (${view.status})${jobTag}${extra.length ? '\n' + extra.join('\n') : ''}`;
  const content = fit(head, tail);
  switch (view.state) {
    case 'running':
      return { content, components: [], image: view.preview };
    case 'done':
      return { content, components: renderButtons(view.buttons), image: view.image };
    case 'failed':
      return { content, components: renderButtons(view.buttons) };
    default:
      return { content, components: [] };
  }
}

export function renderMessage(view: MessageView): RenderedMessage {
  const icon = view.tone === 'error' ? '⚠️ ' : '';
  const fields = (view.fields ?? []).map((f) => `**${f.name}:** ${f.value}`);
  const content = fit([icon + view.text, ...fields].join('\n'), '');
  return { content, components: renderButtons(view.buttons), image: view.image };
}
