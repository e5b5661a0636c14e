// Neutral views → the JSON the page renders. Previews travel inline as data URLs (small, short-lived); finished
// images are URLs of the PNG endpoints, which read the job store.
import type { ButtonRow, MessageView, PngImage, ProgressView } from '../../core/types.ts';

export interface WireButton {
  readonly id: string;
  readonly label: string;
  readonly style: 'primary' | 'secondary' | 'danger';
}

/** A public job message, upserted by `id` on the page. */
export interface WireJobMessage {
  readonly id: string;
  readonly guildId: string;
  /** Increases with every update of this message; the page drops older ones. */
  readonly version: number;
  readonly state: ProgressView['state'];
  readonly jobId: string;
  readonly ownerId: string;
  readonly ownerName?: string;
  readonly title: string;
  readonly flags: string;
  readonly status: string;
  readonly parent?: { readonly jobId: string; readonly action: string };
  readonly position?: number;
  readonly step?: number;
  readonly totalSteps?: number;
  /** Preview (data URL) while running; the grid's URL when done. */
  readonly image?: { readonly src: string; readonly width: number; readonly height: number };
  /** Per-image download links when done. */
  readonly downloads?: readonly string[];
  readonly warnings?: readonly string[];
  readonly buttons: readonly (readonly WireButton[])[];
}

export interface WireEphemeral {
  readonly id: string;
  readonly text: string;
  readonly tone: 'info' | 'error';
  readonly fields?: readonly { readonly name: string; readonly value: string }[];
  readonly image?: { readonly src: string; readonly width: number; readonly height: number };
  readonly buttons: readonly (readonly WireButton[])[];
}

export const gridPath = (jobId: string) => `/api/jobs/${jobId}/grid.png`;
export const imagePath = (jobId: string, index: number) => `/api/jobs/${jobId}/images/${index}.png`;

function buttons(rows: readonly ButtonRow[] | undefined): WireButton[][] {
  return (rows ?? []).filter((r) => r.length > 0).map((r) => r.map((b) => ({ id: b.id, label: b.label, style: b.style })));
}

export function dataUrl(image: PngImage): { src: string; width: number; height: number } {
  return { src: `data:image/png;base64,${Buffer.from(image.png).toString('base64')}`, width: image.width, height: image.height };
}

export function renderJob(id: string, guildId: string, version: number, view: ProgressView): WireJobMessage {
  const job = view.job;
  const base = {
    id,
    guildId,
    version,
    state: view.state,
    jobId: job.jobId,
    ownerId: job.ownerId,
    ...(job.ownerName !== undefined && { ownerName: job.ownerName }),
    title: view.title,
    flags: job.flags,
    status: view.status,
    ...(job.parent && { parent: { jobId: job.parent.jobId, action: job.parent.action } }),
  };
  switch (view.state) {
    case 'queued':
      return { ...base, position: view.position, buttons: [] };
    case 'running':
      return { ...base, step: view.step, totalSteps: view.totalSteps, ...(view.preview && { image: dataUrl(view.preview) }), buttons: [] };
    case 'done':
      return {
        ...base,
        // The version busts the browser cache if a job id were ever reused by a fresh store.
        image: { src: `${gridPath(job.jobId)}?v=${version}`, width: view.image.width, height: view.image.height },
        downloads: Array.from({ length: view.imageCount }, (_, i) => imagePath(job.jobId, i + 1)),
        warnings: view.warnings,
        buttons: buttons(view.buttons),
      };
    case 'failed':
      return { ...base, buttons: buttons(view.buttons) };
    case 'cancelled':
      return { ...base, buttons: [] };
  }
}

export function renderEphemeral(id: string, view: MessageView, image?: { src: string; width: number; height: number }): WireEphemeral {
  return {
    id,
    text: view.text,
    tone: view.tone ?? 'info',
    ...(view.fields && { fields: view.fields.map((f) => ({ name: f.name, value: f.value })) }),
    ...(image && { image }),
    buttons: buttons(view.buttons),
  };
}
