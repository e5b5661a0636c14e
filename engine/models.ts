// Thin wrappers over the four SD sessions (after diffusers' OnnxRuntimeModel / optimum's ORTModelPart).
// Each reads its session's metadata once and adapts: int32/int64 ids, the timestep's dtype and rank, fp16 or
// fp32 I/O, VAE encoder `latent_sample` vs `latent_parameters`, LCM's `timestep_cond`.
import { EngineError } from './errors.ts';
import { float16ToFloat32, float32ToFloat16 } from './fp16.ts';
import type { TorchGenerator } from './random.ts';
import { HeldTensor } from './runtime.ts';
import type { PlainTensor, Session, TensorType, ValueInfo } from './runtime.ts';

/** An fp32 tensor on the JS side; fp16 conversion happens at the session boundary only. */
export interface Float32Tensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

function fail(session: Session, message: string): never {
  throw new EngineError('sd_engine_model_load', `${session.path}: ${message}`, { file: session.path });
}

function describe(info: ValueInfo): string {
  return `\`${info.name}\` ${info.type} [${info.shape.join(', ')}]`;
}

function requireInput(session: Session, name: string, what: string, types: readonly TensorType[], rank?: number): ValueInfo {
  const info = session.input(name);
  const have = session.inputs.map(describe).join(', ') || 'none';
  if (!info) fail(session, `expected an input \`${name}\` (${what}); the model's inputs are ${have}.`);
  if (!types.includes(info.type)) fail(session, `expected input \`${name}\` to be ${types.join(' or ')}, got ${info.type}.`);
  if (rank !== undefined && info.shape.length !== rank) fail(session, `expected input \`${name}\` to have ${rank} dimensions, got [${info.shape.join(', ')}].`);
  return info;
}

function requireOutput(session: Session, names: readonly string[], what: string, rank?: number): ValueInfo {
  const info = names.map((n) => session.output(n)).find((o) => o !== undefined);
  if (!info) {
    fail(session, `expected an output ${names.map((n) => `\`${n}\``).join(' or ')} (${what}); the model's outputs are ${session.outputs.map(describe).join(', ') || 'none'}.`);
  }
  if (!['float32', 'float16'].includes(info.type)) fail(session, `expected output \`${info.name}\` to be float32 or float16, got ${info.type}.`);
  if (rank !== undefined && info.shape.length !== rank) fail(session, `expected output \`${info.name}\` to have ${rank} dimensions, got [${info.shape.join(', ')}].`);
  return info;
}

const floatTypes = ['float32', 'float16'] as const;

function toFeed(info: ValueInfo, data: Float32Array, dims: readonly number[]): PlainTensor {
  return info.type === 'float16' ? { type: 'float16', data: float32ToFloat16(data), dims } : { type: 'float32', data, dims };
}

function toFloat32(t: PlainTensor): Float32Tensor {
  if (t.type === 'float32') return { data: t.data as Float32Array, dims: t.dims };
  if (t.type === 'float16') return { data: float16ToFloat32(t.data as Uint16Array), dims: t.dims };
  throw new EngineError('sd_engine_inference', `Expected a float32 or float16 output, got ${t.type}.`);
}

/** A fixed (exported-static) batch size, or undefined when the batch axis is symbolic. */
function staticBatch(info: ValueInfo): number | undefined {
  const d = info.shape[0];
  return typeof d === 'number' && d > 0 ? d : undefined;
}

/** Splits a batch along axis 0 into runs of the session's static batch size (all at once when dynamic). */
async function inChunks(
  batch: number,
  chunk: number | undefined,
  run: (start: number, count: number) => Promise<Float32Tensor>,
): Promise<Float32Tensor> {
  const size = chunk ?? batch;
  if (size === batch) return run(0, batch);
  if (size > batch || batch % size !== 0) {
    throw new EngineError('sd_engine_invalid_input', `This model was exported with a fixed batch size of ${size}; a batch of ${batch} does not split into it.`);
  }
  const parts: Float32Tensor[] = [];
  for (let start = 0; start < batch; start += size) parts.push(await run(start, size));
  const out = new Float32Array(parts.reduce((n, p) => n + p.data.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p.data, at);
    at += p.data.length;
  }
  return { data: out, dims: [batch, ...parts[0].dims.slice(1)] };
}

function slice(data: Float32Array, batch: number, start: number, count: number): Float32Array {
  const per = data.length / batch;
  return data.subarray(start * per, (start + count) * per);
}

export class TextEncoder {
  readonly ids: ValueInfo;
  readonly hidden: ValueInfo;

  constructor(readonly session: Session) {
    this.ids = requireInput(session, 'input_ids', 'token ids', ['int32', 'int64'], 2);
    this.hidden = requireOutput(session, ['last_hidden_state'], 'the token embeddings', 3);
  }

  /** Fixed sequence length of the export, if any (the tokenizer pads to its own max length otherwise). */
  get sequenceLength(): number | undefined {
    const d = this.ids.shape[1];
    return typeof d === 'number' && d > 0 ? d : undefined;
  }

  /** Whether `encodeHeld` can leave the embeddings in GPU memory (webgpu, dynamic batch). */
  get keepsOnDevice(): boolean {
    return this.session.deviceOutputs.has(this.hidden.name) && staticBatch(this.ids) === undefined;
  }

  /** Like encode, but the embeddings stay in GPU memory as they come out of the model (caller disposes). */
  async encodeHeld(rows: readonly (readonly number[])[]): Promise<HeldTensor> {
    const flat = rows.flat();
    const data = this.ids.type === 'int64' ? BigInt64Array.from(flat, (v) => BigInt(v)) : Int32Array.from(flat);
    const out = await this.session.runHeld({ input_ids: { type: this.ids.type, data, dims: [rows.length, rows[0].length] } });
    const hidden = out[this.hidden.name];
    return hidden instanceof HeldTensor ? hidden : this.session.hold(hidden);
  }

  /** Token ids (each row padded to the same length) → last_hidden_state [batch, length, hidden]. */
  async encode(rows: readonly (readonly number[])[]): Promise<Float32Tensor> {
    const length = rows[0].length;
    return inChunks(rows.length, staticBatch(this.ids), async (start, count) => {
      const flat = rows.slice(start, start + count).flat();
      const data = this.ids.type === 'int64' ? BigInt64Array.from(flat, (v) => BigInt(v)) : Int32Array.from(flat);
      const out = await this.session.run({ input_ids: { type: this.ids.type, data, dims: [count, length] } });
      return toFloat32(out[this.hidden.name]);
    });
  }
}

export interface UnetInputs {
  /** [batch, C, h, w], already scaled by the scheduler. */
  readonly sample: Float32Tensor;
  readonly timestep: number;
  /** [batch, length, hidden]; a HeldTensor (already in the UNet's dtype) skips wrapping and upload every step. */
  readonly encoderHiddenStates: Float32Tensor | HeldTensor;
  /** LCM guidance embedding [batch, dim]. */
  readonly timestepCond?: Float32Tensor;
}

export class Unet {
  readonly sample: ValueInfo;
  readonly timestep: ValueInfo;
  readonly hidden: ValueInfo;
  readonly timestepCond: ValueInfo | undefined;
  readonly out: ValueInfo;

  constructor(readonly session: Session) {
    if (session.input('text_embeds') || session.input('time_ids')) {
      fail(session, 'this UNet takes `text_embeds`/`time_ids`, so it is an SDXL UNet; SDXL is not supported yet.');
    }
    this.sample = requireInput(session, 'sample', 'the noisy latents', floatTypes, 4);
    this.timestep = requireInput(session, 'timestep', 'the timestep', ['int64', 'int32', 'float32', 'float16']);
    if (this.timestep.shape.length > 1) fail(session, `expected input \`timestep\` to be a scalar or 1-D, got [${this.timestep.shape.join(', ')}].`);
    this.hidden = requireInput(session, 'encoder_hidden_states', 'the text embeddings', floatTypes, 3);
    const cond = session.input('timestep_cond');
    if (cond) requireInput(session, 'timestep_cond', 'the LCM guidance embedding', floatTypes, 2);
    this.timestepCond = cond;
    this.out = requireOutput(session, ['out_sample'], 'the predicted noise', 4);
  }

  get latentChannels(): number | undefined {
    const d = this.sample.shape[1];
    return typeof d === 'number' ? d : undefined;
  }

  /** LCM guidance embedding size, from the input's static shape. */
  get timestepCondDim(): number | undefined {
    const d = this.timestepCond?.shape[1];
    return typeof d === 'number' ? d : undefined;
  }

  /**
   * The timestep as the export wants it (diffusers reads the dtype from the session; optimum ≥ Nov 2024 takes a
   * scalar). A 1-D timestep gets one value, broadcast by the graph, unless its axis is the sample's batch axis.
   */
  private timestepFeed(t: number, batch: number): PlainTensor {
    const shape = this.timestep.shape;
    const length = shape.length === 0 ? 1 : typeof shape[0] === 'number' ? shape[0] : shape[0] === this.sample.shape[0] ? batch : 1;
    const dims = shape.length === 0 ? [] : [length];
    switch (this.timestep.type) {
      // numpy's float → int cast truncates, as in diffusers' `np.array([t], dtype=timestep_dtype)`.
      case 'int64':
        return { type: 'int64', data: new BigInt64Array(length).fill(BigInt(Math.trunc(t))), dims };
      case 'int32':
        return { type: 'int32', data: new Int32Array(length).fill(Math.trunc(t)), dims };
      case 'float16':
        return { type: 'float16', data: float32ToFloat16(new Float32Array(length).fill(t)), dims };
      default:
        return { type: 'float32', data: new Float32Array(length).fill(t), dims };
    }
  }

  // The embeddings are the same every step: wrap (and convert to fp16) once per tensor, not once per step.
  readonly #heldHidden = new WeakMap<Float32Tensor, HeldTensor>();

  /** Whether the export takes any batch size (so embeddings can be held whole across steps). */
  get dynamicBatch(): boolean {
    return staticBatch(this.sample) === undefined;
  }

  /** The embeddings wrapped once in the UNet's dtype, for every step of a generation. */
  holdHidden(embeds: Float32Tensor): HeldTensor {
    let held = this.#heldHidden.get(embeds);
    if (!held) {
      held = this.session.hold(toFeed(this.hidden, embeds.data, embeds.dims));
      this.#heldHidden.set(embeds, held);
    }
    return held;
  }

  async predict(inputs: UnetInputs): Promise<Float32Tensor> {
    const batch = inputs.sample.dims[0];
    const chunk = staticBatch(this.sample);
    const hidden = inputs.encoderHiddenStates;
    if (hidden instanceof HeldTensor && chunk !== undefined && chunk !== batch) {
      throw new EngineError('sd_engine_inference', `${this.session.path} has a fixed batch of ${chunk}; held embeddings of batch ${batch} cannot be split.`);
    }
    return inChunks(batch, chunk, async (start, count) => {
      const feeds: Record<string, PlainTensor | HeldTensor> = {
        sample: toFeed(this.sample, slice(inputs.sample.data, batch, start, count), [count, ...inputs.sample.dims.slice(1)]),
        timestep: this.timestepFeed(inputs.timestep, count),
        encoder_hidden_states:
          hidden instanceof HeldTensor
            ? hidden
            : count === batch
              ? this.holdHidden(hidden)
              : toFeed(this.hidden, slice(hidden.data, batch, start, count), [count, ...hidden.dims.slice(1)]),
      };
      if (this.timestepCond) {
        if (!inputs.timestepCond) throw new EngineError('sd_engine_inference', `${this.session.path} needs \`timestep_cond\` (LCM guidance embedding).`);
        feeds.timestep_cond = toFeed(this.timestepCond, slice(inputs.timestepCond.data, batch, start, count), [count, inputs.timestepCond.dims[1]]);
      }
      const out = await this.session.run(feeds);
      return toFloat32(out[this.out.name]);
    });
  }
}

export class VaeDecoder {
  readonly latent: ValueInfo;
  readonly out: ValueInfo;

  constructor(readonly session: Session) {
    this.latent = requireInput(session, 'latent_sample', 'the latents to decode', floatTypes, 4);
    this.out = requireOutput(session, ['sample'], 'the decoded image', 4);
  }

  /**
   * VAE latents (already ÷ scaling factor) [batch, C, h, w] → images in [-1, 1] [batch, 3, H, W]. One image per
   * run, as diffusers' ONNX pipeline does: the decoder's activations at full size dominate memory.
   */
  async decode(latents: Float32Tensor): Promise<Float32Tensor> {
    const batch = latents.dims[0];
    return inChunks(batch, staticBatch(this.latent) ?? 1, async (start, count) => {
      const out = await this.session.run({
        latent_sample: toFeed(this.latent, slice(latents.data, batch, start, count), [count, ...latents.dims.slice(1)]),
      });
      return this.checkFinite(toFloat32(out[this.out.name]));
    });
  }

  /**
   * NaN or ±inf pixels would silently become a black or noisy image. In fp16 this is the known SD 2.x / SDXL VAE
   * overflow (activations beyond fp16's 65504), which needs an fp32 decoder or a patched fp16 one.
   */
  private checkFinite(decoded: Float32Tensor): Float32Tensor {
    const data = decoded.data;
    // One branch-free pass: NaN or ±inf anywhere makes the sum non-finite (finite pixels cannot overflow it).
    let sum = 0;
    for (let i = 0; i < data.length; i++) sum += data[i];
    if (Number.isFinite(sum)) return decoded;
    let bad = 0;
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) bad++;
    const share = `${bad} of ${data.length} values`;
    const fp16 = this.latent.type === 'float16' || this.out.type === 'float16';
    throw new EngineError(
      'sd_engine_inference',
      fp16
        ? `${this.session.path} decoded NaN or infinite pixels (${share}): the fp16 VAE overflowed, as SD 2.x and SDXL VAEs do in fp16. ` +
            'Use an fp32 vae_decoder (export it with fp32 weights and I/O; the UNet can stay fp16), or for SDXL the fp16-safe VAE madebyollin/sdxl-vae-fp16-fix.'
        : `${this.session.path} decoded NaN or infinite pixels (${share}): the latents diverged. Try fewer steps, a lower guidance scale or another scheduler.`,
      { file: this.session.path },
    );
  }
}

export class VaeEncoder {
  readonly image: ValueInfo;
  readonly out: ValueInfo;
  /** `latent_parameters` (mean ‖ logvar) means we sample the posterior ourselves, with the torch generator. */
  readonly returnsParameters: boolean;

  constructor(readonly session: Session) {
    this.image = requireInput(session, 'sample', 'the image to encode', floatTypes, 4);
    this.out = requireOutput(session, ['latent_sample', 'latent_parameters'], 'the image latents', 4);
    this.returnsParameters = this.out.name === 'latent_parameters';
  }

  /**
   * One image in [-1, 1] [1, 3, H, W] → unscaled VAE latents [generators.length, C, h, w]. With
   * `latent_parameters`, image i is sampled from the posterior with generators[i] (diffusers'
   * DiagonalGaussianDistribution.sample), or takes its mean when `mode` is set.
   */
  async encode(image: Float32Tensor, generators: readonly TorchGenerator[], mode = false): Promise<Float32Tensor> {
    const out = await this.session.run({ sample: toFeed(this.image, image.data, image.dims) });
    const encoded = toFloat32(out[this.out.name]);
    const [, channels, h, w] = encoded.dims;
    const count = generators.length;
    if (!this.returnsParameters) {
      const data = new Float32Array(encoded.data.length * count);
      for (let i = 0; i < count; i++) data.set(encoded.data, i * encoded.data.length);
      return { data, dims: [count, channels, h, w] };
    }
    const latentChannels = channels / 2;
    const plane = latentChannels * h * w;
    const mean = encoded.data.subarray(0, plane);
    const logvar = encoded.data.subarray(plane, 2 * plane);
    const data = new Float32Array(plane * count);
    for (let i = 0; i < count; i++) {
      const target = data.subarray(i * plane, (i + 1) * plane);
      if (mode) {
        target.set(mean);
        continue;
      }
      const noise = generators[i].randn([1, latentChannels, h, w]);
      for (let j = 0; j < plane; j++) {
        const std = Math.exp(0.5 * Math.min(20, Math.max(-30, logvar[j])));
        target[j] = mean[j] + std * noise[j];
      }
    }
    return { data, dims: [count, latentChannels, h, w] };
  }
}
