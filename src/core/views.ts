// Builders of the neutral `ProgressView`s from job records, so every platform shows the same words.
import { cancelButtons, doneButtons, retryButtons } from './button-id.ts';
import { formatDuration, formatEta, paramsAsFlags, shorten } from './format.ts';
import type { JobCard, JobRecord, PngImage, ProgressView } from './types.ts';

export function jobCard(job: JobRecord): JobCard {
  return {
    jobId: job.id,
    ownerId: job.ownerId,
    ...(job.ownerName !== undefined && { ownerName: job.ownerName }),
    kind: job.kind,
    prompt: job.params.prompt,
    flags: paramsAsFlags(job.params),
    ...(job.parent && { parent: job.parent }),
  };
}

const base = (job: JobRecord) => ({ job: jobCard(job), title: shorten(job.params.prompt) });

export function queuedView(job: JobRecord, position: number, etaMs: number | undefined): ProgressView {
  const status = position <= 1 ? `Queued: next up, ${formatEta(etaMs)}` : `Queued: #${position} in line, ${formatEta(etaMs)}`;
  return { ...base(job), state: 'queued', position, etaMs, status, buttons: cancelButtons(job.id) };
}

export function runningView(job: JobRecord, step: number, totalSteps: number, etaMs: number | undefined, preview?: PngImage): ProgressView {
  const eta = etaMs === undefined ? '' : `, ${formatEta(etaMs)} left`;
  return { ...base(job), state: 'running', step, totalSteps, etaMs, ...(preview && { preview }), status: `Step ${step}/${totalSteps}${eta}`, buttons: cancelButtons(job.id) };
}

export function doneView(job: JobRecord, image: PngImage): ProgressView {
  const count = job.seeds?.length ?? 1;
  const duration = job.durationMs ?? 0;
  const from = job.parent ? ` (${job.parent.action} of ${job.parent.jobId})` : '';
  return {
    ...base(job),
    state: 'done',
    image,
    imageCount: count,
    seeds: job.seeds ?? [],
    warnings: job.warnings ?? [],
    buttons: doneButtons(job.id, count, job.kind === 'upscale'),
    durationMs: duration,
    status: `Done in ${formatDuration(duration)}${from} · job ${job.id}`,
  };
}

export function failedView(job: JobRecord, code: string, reason: string): ProgressView {
  return { ...base(job), state: 'failed', code, reason, buttons: retryButtons(job.id), status: `Failed: ${reason}` };
}

export function cancelledView(job: JobRecord, by: string | undefined): ProgressView {
  return { ...base(job), state: 'cancelled', cancelledBy: by, status: by ? `Cancelled by ${by === job.ownerId ? (job.ownerName ?? 'its owner') : 'an admin'}` : 'Cancelled' };
}

export function gridFilename(job: JobRecord): string {
  return `imagine-${job.id}.png`;
}
