// Guidance maths: classifier-free guidance on the UNet's batch, and LCM's guidance embedding.

/** noise = uncond + g·(text − uncond), for a UNet batch laid out [uncond × n, text × n] (diffusers: uncond first). */
export function combineGuidance(noisePred: Float32Array, guidanceScale: number): Float32Array {
  const half = noisePred.length / 2;
  return combineGuidanceInto(new Float32Array(half), noisePred, [{ from: 0, to: half, scale: guidanceScale }]);
}

/** A run of the guided output [from, to) that uses one guidance scale (one request of a batch). */
export interface GuidanceSegment {
  readonly from: number;
  readonly to: number;
  readonly scale: number;
}

/** combineGuidance into a reused buffer, with a guidance scale per segment (requests batched together). */
export function combineGuidanceInto(out: Float32Array, noisePred: Float32Array, segments: readonly GuidanceSegment[]): Float32Array {
  const half = out.length;
  for (const { from, to, scale } of segments) {
    for (let i = from; i < to; i++) {
      const uncond = noisePred[i];
      out[i] = uncond + scale * (noisePred[half + i] - uncond);
    }
  }
  return out;
}

/**
 * diffusers LatentConsistencyModelPipeline.get_guidance_scale_embedding for w = guidanceScale − 1, one row per
 * image: sinusoidal features of w·1000, [sin ‖ cos], zero-padded when dim is odd. Float32 like torch's default.
 */
export function guidanceScaleEmbedding(guidanceScale: number, dim: number, batch: number): Float32Array {
  const f = Math.fround;
  const w = f(f(guidanceScale - 1) * 1000);
  const half = Math.floor(dim / 2);
  const step = f(Math.log(10000) / (half - 1));
  const row = new Float32Array(dim);
  for (let i = 0; i < half; i++) {
    const arg = f(w * f(Math.exp(f(i * -step))));
    row[i] = Math.sin(arg);
    row[half + i] = Math.cos(arg);
  }
  const out = new Float32Array(dim * batch);
  for (let b = 0; b < batch; b++) out.set(row, b * dim);
  return out;
}
