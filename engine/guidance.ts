// Guidance maths: classifier-free guidance on the UNet's batch, and LCM's guidance embedding.

/** noise = uncond + g·(text − uncond), for a UNet batch laid out [uncond × n, text × n] (diffusers: uncond first). */
export function combineGuidance(noisePred: Float32Array, guidanceScale: number): Float32Array {
  const half = noisePred.length / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const uncond = noisePred[i];
    out[i] = uncond + guidanceScale * (noisePred[half + i] - uncond);
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
