// Button actions on a finished job. The button id gave only the job id and the action; the job itself (prompt,
// parameters, seeds, images) comes from the store, so these work for as long as the job is stored.
import { actionLabel } from '../src/core/button-id.ts';
import { BotError, ErrorCode } from '../src/core/errors.ts';
import type { ButtonContext, JobDraft, JobKind, JobParams, JobRecord } from '../src/core/types.ts';
import { randomSeed } from './imagine.ts';

/** Upscales stop here: a 2× of anything larger would not fit memory or an upload. */
export const MAX_UPSCALE_SIDE = 2048;

function requireDone(job: JobRecord, what: string): void {
  if (job.status !== 'done' || !job.seeds) {
    throw new BotError(ErrorCode.Validation, `job ${job.id} is ${job.status}`, `Job \`${job.id}\` is ${job.status}; ${what} needs a finished image.`);
  }
}

function requireImage(job: JobRecord, index: number): void {
  requireDone(job, `U${index}/V${index}`);
  if (index > (job.seeds?.length ?? 0)) {
    throw new BotError(ErrorCode.Validation, `job ${job.id} has ${job.seeds?.length} images`, `Job \`${job.id}\` has no image ${index}.`);
  }
}

function upscaled(job: JobRecord, index: number, strength: number): JobParams {
  const width = job.params.width * 2;
  const height = job.params.height * 2;
  if (Math.max(width, height) > MAX_UPSCALE_SIDE) {
    throw new BotError(
      ErrorCode.Validation,
      `upscale of ${job.id} would be ${width}×${height}`,
      `This image is ${job.params.width}×${job.params.height}; a 2× upscale would pass ${MAX_UPSCALE_SIDE} pixels a side.`,
    );
  }
  return {
    ...job.params,
    width,
    height,
    seed: job.seeds![index - 1],
    numImagesPerPrompt: 1,
    strength,
    initImage: { jobId: job.id, index },
  };
}

/** The draft a button press submits, or undefined for cancel (handled by the caller). */
export function draftFor(context: ButtonContext): JobDraft | undefined {
  const { action, job, input, services } = context;
  const limits = services.limits;
  const lineage = { jobId: job.id, action: actionLabel(action) };
  const draft = (kind: JobKind, params: JobParams): JobDraft => ({ actor: input.actor, kind, params, parent: lineage });
  if (action.type !== 'cancel' && action.type !== 'reroll' && !services.model.supportsImg2Img) {
    throw new BotError(
      ErrorCode.Validation,
      `model ${services.model.name} has no VAE encoder`,
      `The current model (${services.model.name}) cannot start from an image, so upscale and variations are off; 🔄 still works.`,
    );
  }
  // A fresh img2img from one image keeps the source's size and grid.
  const { strength: _s, initImage: _i, ...base } = job.params;
  switch (action.type) {
    case 'cancel':
      return undefined;
    case 'upscale':
      requireImage(job, action.index);
      return draft('upscale', upscaled(job, action.index, limits.upscaleStrength));
    case 'upscale-again':
      requireImage(job, 1);
      return draft('upscale', upscaled(job, 1, limits.upscaleStrength));
    case 'variation':
      requireImage(job, action.index);
      return draft('variation', {
        ...base,
        seed: randomSeed(),
        numImagesPerPrompt: job.kind === 'upscale' ? limits.defaultImages : job.params.numImagesPerPrompt,
        strength: limits.variationStrength,
        initImage: { jobId: job.id, index: action.index },
      });
    case 'vary':
      requireImage(job, 1);
      return draft(action.strength === 'strong' ? 'vary-strong' : 'vary-subtle', {
        ...base,
        seed: randomSeed(),
        numImagesPerPrompt: limits.defaultImages,
        strength: action.strength === 'strong' ? limits.varyStrongStrength : limits.varySubtleStrength,
        initImage: { jobId: job.id, index: 1 },
      });
    case 'reroll':
      // Same parameters (img2img ones included), new seed; works on failed and cancelled jobs too.
      return draft('reroll', { ...job.params, seed: randomSeed() });
  }
}

export async function handleButton(context: ButtonContext): Promise<void> {
  const { action, job, input, reply, services } = context;
  if (action.type === 'cancel') {
    const result = await services.jobs.cancel(job.id, input.actor);
    await reply.ephemeral({ text: result === 'removed' ? `Cancelled \`${job.id}\`; it was still queued.` : `Stopping \`${job.id}\` at its next step.` });
    return;
  }
  const draft = draftFor(context)!;
  await services.moderate(input.actor, [draft.params.prompt, draft.params.negativePrompt].join('\n'));
  await services.jobs.submit(draft, reply);
}

/** Whether the answer to this button is private (cancel) or a new public progress message. */
export function isEphemeralAction(type: ButtonContext['action']['type']): boolean {
  return type === 'cancel';
}
