// Step previews from the predicted x0 (UNet-space latents). The linear map is ComfyUI's Latent2RGBPreviewer
// (latent_preview.py): rgb = x0ᵀ·factors + bias, clamp to [-1, 1], (+1)·127.5. One latent cell becomes one
// pixel, so a 512² image gives a 64² preview in ~16K multiply-adds: cheap enough for every step.
// A TAESD decoder (madebyollin/taesd convention: UNet-space latents in, RGB in [0, 1] out) gives nicer previews.
import { float16ToFloat32, float32ToFloat16 } from './fp16.ts';
import type { Float32Tensor } from './models.ts';
import { planarToRgb } from './pixels.ts';
import type { Session } from './runtime.ts';
import type { RgbImage } from './types.ts';

/** x0 of the first image: data holds at least C·h·w values, channel-major (NCHW). */
export function latentToRgb(
  x0: Float32Array,
  channels: number,
  height: number,
  width: number,
  factors: readonly (readonly number[])[],
  bias: readonly number[],
): RgbImage {
  const plane = height * width;
  const data = new Uint8Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    for (let rgb = 0; rgb < 3; rgb++) {
      let v = bias[rgb];
      for (let c = 0; c < channels; c++) v += x0[c * plane + p] * factors[c][rgb];
      v = v < -1 ? -1 : v > 1 ? 1 : v;
      data[p * 3 + rgb] = Math.round((v + 1) * 127.5);
    }
  }
  return { width, height, data };
}

export interface Previewer {
  preview(x0: Float32Tensor): Promise<RgbImage>;
}

export class LinearPreviewer implements Previewer {
  constructor(
    private readonly factors: readonly (readonly number[])[],
    private readonly bias: readonly number[],
  ) {}

  async preview(x0: Float32Tensor): Promise<RgbImage> {
    const [, channels, height, width] = x0.dims;
    return latentToRgb(x0.data, channels, height, width, this.factors, this.bias);
  }
}

export class TaesdPreviewer implements Previewer {
  private readonly inputName: string;
  private readonly outputName: string;

  constructor(private readonly session: Session) {
    this.inputName = session.inputs[0].name;
    this.outputName = session.outputs[0].name;
  }

  async preview(x0: Float32Tensor): Promise<RgbImage> {
    const [, channels, h, w] = x0.dims;
    const first = x0.data.subarray(0, channels * h * w);
    const input = this.session.inputs[0];
    const feed =
      input.type === 'float16'
        ? { type: 'float16' as const, data: float32ToFloat16(first), dims: [1, channels, h, w] }
        : { type: 'float32' as const, data: first, dims: [1, channels, h, w] };
    const out = (await this.session.run({ [this.inputName]: feed }))[this.outputName];
    const pixels = out.type === 'float16' ? float16ToFloat32(out.data as Uint16Array) : (out.data as Float32Array);
    return planarToRgb(pixels, out.dims[2], out.dims[3], 0, 1);
  }
}
