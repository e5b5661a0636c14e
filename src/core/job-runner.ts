// Runs one job on the engine: marks it running, streams progress to its message, stores the images and the final
// status (done exactly once: the status and the completion count are written in one record), or records why it
// failed or who cancelled it.
import type { Engine, GenerateOptions, RgbImage } from '../../engine/index.ts';
import { BotError, ErrorCode, asBotError } from './errors.ts';
import { decodePng, encodePng, grid, signature } from './images.ts';
import type { Logger } from './logger.ts';
import type { ProgressHub } from './progress.ts';
import type { JobStore } from './job-store.ts';
import type { JobRecord, JobStatus, PngImage } from './types.ts';
import { cancelledView, doneView, failedView, gridFilename, runningView } from './views.ts';

export interface JobRunnerDeps {
  readonly engine: Engine;
  readonly store: JobStore;
  readonly hub: ProgressHub;
  readonly log: Logger;
  /** Remaining time estimate for a running job (from the dispatcher). */
  readonly etaOf: (jobId: string) => number | undefined;
  readonly onStarted?: (job: JobRecord) => void;
  readonly onProgress?: (job: JobRecord, step: number, total: number) => void;
  readonly onFinished?: (job: JobRecord) => void;
  /** Compute engine previews every N steps. @default 1 */
  readonly previewEvery?: number;
}

interface Preview {
  readonly image: RgbImage;
  png?: Promise<Uint8Array>;
}

async function previewPng(preview: Preview, jobId: string): Promise<PngImage> {
  preview.png ??= encodePng(preview.image);
  return { png: await preview.png, width: preview.image.width, height: preview.image.height, filename: `preview-${jobId}.png` };
}

const isFinal = (status: JobStatus) => status === 'done' || status === 'failed' || status === 'cancelled';

export function createJobRunner(deps: JobRunnerDeps) {
  const { engine, store, hub, log } = deps;

  return async function runJob(queued: JobRecord, signal: AbortSignal): Promise<JobStatus | void> {
    const job = await store.updateJob(queued.id, (j) =>
      isFinal(j.status) ? undefined : { ...j, status: 'running', startedAt: Date.now(), attempts: j.attempts + 1 },
    );
    if (!job || isFinal(job.status)) return; // cancelled while it was being dequeued
    deps.onStarted?.(job);
    log.info({ jobId: job.id, attempt: job.attempts, guild: job.guildId }, 'job started');
    const startedAt = performance.now();
    hub.push(job, { final: false, build: async () => runningView(job, 0, job.params.numInferenceSteps, deps.etaOf(job.id)) });

    try {
      const options = await generateOptions(job, signal);
      // Views carry the latest preview forward, so a step without a new one does not blank the image; each
      // preview is encoded once, and only if a view that shows it is delivered.
      let latest: Preview | undefined;
      const result = await engine.generate({
        ...options,
        onProgress: ({ step, totalSteps, preview }) => {
          deps.onProgress?.(job, step, totalSteps);
          if (preview) latest = { image: preview };
          const shown = latest;
          hub.push(job, {
            final: false,
            ...(preview && { signature: signature(preview) }),
            build: async () => runningView(job, step, totalSteps, deps.etaOf(job.id), shown && (await previewPng(shown, job.id))),
          });
        },
      });
      if (signal.aborted) throw signal.reason;
      const pngs = await Promise.all(result.images.map((image) => encodePng(image)));
      const gridImage = grid(result.images);
      const gridPng = result.images.length === 1 ? pngs[0] : await encodePng(gridImage);
      await store.putImages(job.id, pngs);
      await store.putImages(`${job.id}:grid`, [gridPng]);
      const durationMs = Math.round(performance.now() - startedAt);
      const done = await store.updateJob(job.id, (j) =>
        j.status !== 'running'
          ? undefined
          : { ...j, status: 'done', finishedAt: Date.now(), durationMs, seeds: result.seeds, warnings: result.warnings, completions: j.completions + 1 },
      );
      if (!done || done.status !== 'done') return done?.status;
      const image: PngImage = { png: gridPng, width: gridImage.width, height: gridImage.height, filename: gridFilename(done) };
      hub.push(done, { final: true, build: async () => doneView(done, image) });
      log.info({ jobId: job.id, durationMs }, 'job done');
      deps.onFinished?.(done);
      return 'done';
    } catch (thrown) {
      const reason = signal.aborted ? signal.reason : thrown;
      const error = asBotError(reason);
      if (error.code === ErrorCode.Cancelled) {
        const by = (error.cause as { by?: string } | undefined)?.by;
        const cancelled = await store.updateJob(job.id, (j) => (isFinal(j.status) ? undefined : { ...j, status: 'cancelled', finishedAt: Date.now(), cancelledBy: by }));
        if (cancelled) hub.push(cancelled, { final: true, build: async () => cancelledView(cancelled, by) });
        log.info({ jobId: job.id, by }, 'job cancelled while running');
        if (cancelled) deps.onFinished?.(cancelled);
        return 'cancelled';
      }
      log.warn({ jobId: job.id, code: error.code, err: error }, 'job failed');
      const failed = await store.updateJob(job.id, (j) =>
        isFinal(j.status) ? undefined : { ...j, status: 'failed', finishedAt: Date.now(), error: { code: error.code, message: error.userMessage } },
      );
      if (failed) {
        hub.push(failed, { final: true, build: async () => failedView(failed, error.code, error.userMessage) });
        deps.onFinished?.(failed);
      }
      return 'failed';
    }
  };

  async function generateOptions(job: JobRecord, signal: AbortSignal): Promise<GenerateOptions> {
    const p = job.params;
    let image: GenerateOptions['image'];
    if (p.initImage) {
      const png = await store.getImage(p.initImage.jobId, p.initImage.index);
      if (!png) {
        throw new BotError(
          ErrorCode.NotFound,
          `image ${p.initImage.index} of ${p.initImage.jobId} is not stored`,
          `The source image (${p.initImage.index} of job ${p.initImage.jobId}) is no longer stored.`,
        );
      }
      image = await decodePng(png, { width: p.width, height: p.height });
    }
    return {
      prompt: p.prompt,
      negativePrompt: p.negativePrompt,
      width: p.width,
      height: p.height,
      numInferenceSteps: p.numInferenceSteps,
      guidanceScale: p.guidanceScale,
      seed: p.seed,
      numImagesPerPrompt: p.numImagesPerPrompt,
      ...(p.scheduler !== undefined && { scheduler: p.scheduler }),
      ...(p.useKarrasSigmas !== undefined && { useKarrasSigmas: p.useKarrasSigmas }),
      ...(image && { image, strength: p.strength }),
      signal,
      previewEvery: deps.previewEvery ?? 1,
    };
  }
}
