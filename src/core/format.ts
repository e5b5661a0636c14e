// Plain-text pieces shared by progress views and command replies, so every platform words things the same way.
import type { JobParams, JobRecord } from './types.ts';

/** `about 40 s`, `about 3 min`, `about 1 h 5 min`; `unknown` before any job was measured. */
export function formatEta(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return 'ETA unknown until the first job finishes';
  return `about ${formatDuration(ms)}`;
}

export function formatDuration(ms: number): string {
  const s = Math.max(1, Math.round(ms / 1000));
  if (s < 90) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 90) return `${min} min`;
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}

/** The parameters as flags: enough to reproduce the job with /imagine. */
export function paramsAsFlags(params: JobParams): string {
  const parts = [
    params.aspectRatio !== undefined && `--ar ${params.aspectRatio}`,
    `--seed ${params.seed}`,
    params.negativePrompt !== '' && `--no ${params.negativePrompt}`,
    `--steps ${params.numInferenceSteps}`,
    `--guidance ${params.guidanceScale}`,
    params.sampler !== undefined && `--sampler ${params.sampler}`,
    `--n ${params.numImagesPerPrompt}`,
  ];
  return parts.filter(Boolean).join(' ');
}

export function shorten(text: string, max = 80): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}

export function describeJob(job: JobRecord): string {
  const what = job.kind === 'imagine' ? '' : ` (${job.parent?.action ?? job.kind} of ${job.parent?.jobId ?? '?'})`;
  return `\`${job.id}\` ${shorten(job.params.prompt, 60)}${what}`;
}
