// Sigma tables of the sigma-parameterised schedulers (Euler, EulerA, DPM): training sigmas from alphas_cumprod,
// the Karras and exponential schedules, and diffusers' sigma → timestep interpolation.
import { f32, npLinspace } from './numeric.ts';

/** Training sigmas sqrt((1 - ᾱ)/ᾱ), float32 as torch computes them (ascending in t). */
export function trainingSigmas(alphasCumprod: Float32Array): Float32Array {
  const out = new Float32Array(alphasCumprod.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.sqrt(f32(f32(1 - alphasCumprod[i]) / alphasCumprod[i]));
  return out;
}

/** diffusers' _sigma_to_t: piecewise-linear interpolation of t in log-sigma. `logSigmas` ascending. */
export function sigmaToT(sigma: number, logSigmas: Float32Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  let count = 0;
  for (let i = 0; i < logSigmas.length; i++) if (logSigma - logSigmas[i] >= 0) count++;
  const low = Math.min(Math.max(count - 1, 0), logSigmas.length - 2);
  const lo = logSigmas[low];
  const hi = logSigmas[low + 1];
  const w = Math.min(Math.max((lo - logSigma) / (lo - hi), 0), 1);
  return (1 - w) * low + w * (low + 1);
}

export function logOf(values: Float32Array): Float32Array {
  return values.map((v) => Math.log(v));
}

/** Karras et al. (2022) ρ=7 schedule between sigmaMax and sigmaMin. */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number): number[] {
  const rho = 7;
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  return npLinspace(0, 1, n).map((ramp) => (maxInv + ramp * (minInv - maxInv)) ** rho);
}

export function exponentialSigmas(sigmaMin: number, sigmaMax: number, n: number): number[] {
  return npLinspace(Math.log(sigmaMax), Math.log(sigmaMin), n).map(Math.exp);
}
