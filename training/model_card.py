"""Writes models/<name>/README.md (the model card) from the training stats and the evaluation results.

Usage: [TRAIN_RUN=v9|...|v1] /usr/bin/python3 training/model_card.py [--results artifacts/eval-model/results.json] [--parity TEXT]
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import world  # noqa: E402
from export import NAME, ROOT  # noqa: E402
from train import BUCKETS, DATA, EXPERTS, PYRAMID_DISCOUNT, PYRAMID_FROM_T, RUN, RUNS_CONFIG, VAE_STEPS  # noqa: E402


def pct(x):
    return '–' if x is None or x != x else f'{100 * x:.1f}%'


def table(summary):
    lines = ['| prompts | n | colour | shape | colour+shape | position | count |', '|---|---|---|---|---|---|---|']
    for k, s in summary.items():
        lines.append(f"| {k} | {s['prompts']} | {pct(s['colour'])} | {pct(s['shape'])} | {pct(s['colourShape'])} | "
                     f"{pct(s['position'])} | {pct(s['count'])} |")
    return '\n'.join(lines)


def describe(run):
    """(position information, training noise, objective, UNet steps) of a training run, in words."""
    cfg = RUNS_CONFIG[run]
    if cfg['unet']['coords']:
        position = ('normalised x/y coordinate channels concatenated to `conv_in`\'s input (CoordConv) and a learned '
                    'projection of Fourier features of the same coordinates added to every attention block\'s tokens; '
                    'both are computed inside the graph from the feature map\'s own height/width, so the ONNX inputs '
                    'are unchanged and every size gets the same canvas-relative positions.')
    else:
        position = 'none (convolutions and attention without position embedding).'
    if cfg['prediction'] == 'v_prediction':
        objective = ('v prediction (an epsilon loss weighs an error in the image by the SNR, 0.005 at t = 999, so '
                     'where the layout is decided the position words hardly pay; a v loss weighs it by SNR + 1), '
                     'image-space loss weight min(SNR, 5) + 1')
    else:
        objective = 'epsilon prediction, min-SNR-5 loss weighting'
    if cfg['noise'] == 'pyramid':
        noise = (f'multi-resolution: white noise plus noise drawn at 1/2, 1/4, … of the latent size, upsampled and '
                 f'weighted {PYRAMID_DISCOUNT}^level, rescaled to unit variance. SD\'s schedule leaves 0.068 of the '
                 'image in x_t at t = 999 and the objects are big low-frequency blobs, so with white noise the '
                 'layout stays readable from x_t and the UNet never learns the position words (v1, v2); the extra '
                 'low-frequency noise hides it. Sampling is unchanged (white initial noise).')
    elif cfg['noise'] == 'pyramid-high':
        noise = (f'multi-resolution (discount {PYRAMID_DISCOUNT}) for t > {PYRAMID_FROM_T}, white noise below.')
    else:
        noise = 'white (standard Gaussian).'
    return position, noise, objective, cfg.get('unet_steps', 8000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--results', default=os.path.join(ROOT, 'artifacts', 'eval-model', 'results.json'))
    ap.add_argument('--parity', default='')
    a = ap.parse_args()
    out = os.path.join(ROOT, 'models', NAME)
    with open(os.path.join(DATA, 'latent_stats.json')) as f:
        stats = json.load(f)
    with open(os.path.join(out, 'model_index.json')) as f:
        step = json.load(f).get('imagine_training_step')
    sizes = {d: sum(os.path.getsize(os.path.join(out, d, f)) for f in os.listdir(os.path.join(out, d)))
             for d in ('text_encoder', 'unet', 'vae_decoder', 'vae_encoder', 'tokenizer')}
    total = sum(sizes.values())
    res = None
    if os.path.exists(a.results):
        with open(a.results) as f:
            res = json.load(f)
    held = ', '.join(f'{c} {s}' for c, s in world.HELD_OUT)
    eval_md = 'Not measured yet: run `npm run eval:model`.'
    if res:
        parts = ['The judge on the generator\'s own ground-truth images of the same prompts (its sanity check):', '',
                 table(res['judgeOnGroundTruth'])]
        for k, v in res['results'].items():
            parts += ['', f"The model through the TypeScript engine, {res['steps']} steps, {k}:", '', table(v)]
        parts += ['', f"A 2×2 grid (4 images, 20 steps, guidance 5, CFG batch 8) takes {res['grid2x2MedianMs']:.0f} ms "
                      '(median of 5, onnxruntime-node CPU, 2 shared cores).']
        eval_md = '\n'.join(parts)
    if EXPERTS:
        with open(os.path.join(out, 'unet', 'config.json')) as f:
            experts = json.load(f)['imagine_experts']
        lay, det = experts['layout'], experts['detail']
        unet_md = (f"two expert denoisers in one graph, chosen by timestep: run {lay['run']}'s UNet for t ≥ "
                   f"{experts['t_from']} (v prediction, converted to epsilon inside the graph) and run {det['run']}'s "
                   f"below, each reading its half of `encoder_hidden_states` [b,32,256]; each 48/96/128 channels at "
                   f"latent 16/8/4 (for 64×64), cross-attention at 8×8 and 4×4 and in the middle; weights stored as "
                   f"float16 (cast to float32 in the graph)")
        te_md = ('`input_ids` int32 [batch, 32] → `last_hidden_state` [batch, 32, 256]: the two experts\' text '
                 'encoders side by side, each a 3-layer bidirectional transformer of width 128; float16 storage')
        training_md = [
            f'- Two expert denoisers by noise level, as NVIDIA\'s eDiff-I (Balaji et al., 2022, "ensemble of expert '
            f'denoisers"): each run trains its own text encoder and UNet on all timesteps; the export uses run '
            f'{lay["run"]} (step {lay["step"]}) for t ≥ {experts["t_from"]}, sampling\'s first four steps of 20, where '
            f'the layout is decided, and run {det["run"]} (step {det["step"]}) below, where the shapes are drawn. Why: '
            f'no single recipe did both (see Limits and `training/train.py`). Run {lay["run"]} alone places objects '
            f'where the prompt says but draws irregular blobs (guidance 5: position 100%, shape 30.4%); run '
            f'{det["run"]} alone draws clean shapes (90.2%) but ignores position words (6.7%); together they meet '
            f'every target. The switch was set a priori; '
            f'at 701 or 851 instead the guidance-5 figures move by at most 2.5 points (701: colour 97.7%, shape 86.5%, '
            f'position 100%; 851: 96.7%, 86.5%, 96.7%).',
            '- Time: data, VAE and latents 15 min (measured from scratch on an otherwise idle machine); then both runs\' '
            'UNets side by side, one core each, at 0.56–0.67 s a step (measured), v1\'s 8000 steps in about 80 min and '
            'v4\'s last 4000 alone at 0.42 s in about 28 min: about 2 h 5 min from scratch (the UNet part estimated from '
            'those rates: the shipped runs were trained in pieces across sessions).']
        for role, e in (('layout expert', lay), ('detail expert', det)):
            position, noise, objective, steps = describe(e['run'])
            training_md += [f'- The {role} (run {e["run"]}): position information: {position} Training noise: '
                            f'{noise} Objective: {objective}; {steps} steps.']
        prediction = 'epsilon'
    else:
        position, noise, objective, steps = describe(RUN)
        unet_md = (f"{'v' if RUNS_CONFIG[RUN]['prediction'] == 'v_prediction' else 'epsilon'}; channels 48/96/128 at "
                   'latent 16/8/4 (for 64×64), cross-attention at 8×8 and 4×4 and in the middle')
        te_md = ('`input_ids` int32 [batch, 32] → `last_hidden_state` [batch, 32, 128]; 3-layer bidirectional '
                 'transformer, width 128')
        training_md = [f'- UNet position information: {position}', f'- Training noise: {noise}',
                       f'- Objective: {objective}; {steps} steps planned, this export is step {step}.']
        prediction = RUNS_CONFIG[RUN]['prediction']
    run_dirs = [EXPERTS['layout'], EXPERTS['detail']] if EXPERTS else [RUN]
    checkpoint_dirs = ' and '.join(f"`{os.path.relpath(RUNS_CONFIG[r]['dir'], ROOT)}/`" for r in run_dirs)
    limits_md = '' if not EXPERTS else (
            '- Why two experts. Run v1 (one UNet, white noise, epsilon) drew the same layout for `at the top left` and\n'
            "  `at the bottom right`: SD's schedule leaves 0.068 of the image in x_t at t = 999 and the objects are big\n"
            '  low-frequency blobs, so in training the layout is readable from the noisy latent and an epsilon loss (which\n'
            '  weighs an image error by the SNR, 0.005 there) never pays the position words. Multi-resolution noise with\n'
            '  v prediction (v4) learns them (position 100% at step 9584) but draws blobs (shape 27%): its x0 error at low\n'
            '  noise is about twice v1\'s (0.0064 vs 0.0033 at t = 50) and its text encoder moves 0.70 for a position\n'
            '  phrase but 0.08 from `star` to `heart` (v1: 0.05 and 0.20; both from `training/probe.py`). Continuing v4\n'
            '  from step 9584 with less weight on high noise (v6, 2416 steps) or with v1\'s recipe below t = 800 (v7, 1462\n'
            '  steps) left shapes at 26–27%; a smaller layout UNet (32/48/64 channels) reading v1\'s frozen text encoder\n'
            '  did not learn position in 3000 steps (6.7%).\n')
    card = f"""# {NAME}: the embedded shapes model

A small text-to-image latent diffusion model in the Stable Diffusion design, trained from scratch on two CPU
cores in about two hours on a procedural world of coloured shapes. It is imagine-bot's default model, the model the
tests use, and the demo: it needs no download and draws prompts such as `a big red circle on a blue background`,
`two small yellow stars on a black background` or `a green heart and a purple square`.

It only knows its world. Anything else in a prompt is ignored or produces shapes anyway.

## Files (diffusers / optimum ONNX layout, {total / 1e6:.1f} MB)

| folder | what | size |
|---|---|---|
| `tokenizer/` | CLIP-format BPE (`vocab.json`, `merges.txt`): 256 byte tokens, the same with `</w>`, merges that make each world word one token, then `<\\|startoftext\\|>`, `<\\|endoftext\\|>`; 32 tokens max, padded with `<\\|endoftext\\|>` | {sizes['tokenizer'] / 1e3:.0f} kB |
| `text_encoder/model.onnx` | {te_md} | {sizes['text_encoder'] / 1e6:.1f} MB |
| `unet/model.onnx` | `sample` [b,4,h/4,w/4], `timestep` int64 [1] (or [b]), `encoder_hidden_states` → `out_sample` ({prediction}); {unet_md} | {sizes['unet'] / 1e6:.1f} MB |
| `vae_decoder/model.onnx` | `latent_sample` [b,4,h/4,w/4] (unscaled) → `sample` [b,3,h,w] in [-1, 1] | {sizes['vae_decoder'] / 1e6:.1f} MB |
| `vae_encoder/model.onnx` | `sample` [b,3,h,w] in [-1, 1] → `latent_sample` (the posterior mean, not a sample) | {sizes['vae_encoder'] / 1e6:.1f} MB |
| `scheduler/scheduler_config.json` | EulerDiscrete on SD's `scaled_linear` 0.00085–0.012, 1000 steps, `leading` spacing with offset 1 (integer timesteps for every scheduler), `prediction_type` {prediction} | |
| `model_index.json` | `OnnxStableDiffusionPipeline` plus `imagine_defaults` (20 steps, guidance 5, 64×64) | |

The VAE `scaling_factor` is {stats['scaling_factor']:.5f} (1 / std of the training latents). `vae_decoder/config.json`
also holds `latent_rgb_factors` (4×3) and `latent_rgb_bias`, fitted by least squares from scaled latents to 4×4-pooled
RGB in [-1, 1] (mean abs error of the linear preview {stats['preview_mean_abs_error']:.1f}/255).

## Data

`training/world.py` draws every image procedurally (PIL with 4× supersampling for anti-aliasing):
- shapes: {', '.join(world.SHAPES)} (synonyms `disk`, `donut`); colours: {', '.join(world.COLOUR_NAMES)};
  sizes small/big (`little`, `large`); 9 positions (centre, left, right, top, bottom and the four corners);
- 1 object (55%), 2 (30%) or 3 (15%), 40% of multi-object scenes being counting scenes (`two small yellow stars`);
- backgrounds plain (60%), two-tone (`on a blue and white background`) or gradient (`on a blue to black gradient`);
- captions from templates with synonyms, optional size/position/background and two word orders.

Buckets: {', '.join(f'{k} ({v[2]} images)' for k, v in BUCKETS.items())}; the non-square and 128×128 buckets keep
`--ar 3:2` / `2:3` and 2× img2img upscales coherent. Six colour–shape combinations never appear in training
and measure generalisation: {held}.

## Training

One command, fixed seeds, resumable: `TRAIN_RUN={RUN} npm run train:model` (`training/train.sh`), stages data → vae →
latents → unet → export, each skipped when done, checkpoints every 3 minutes in {checkpoint_dirs}
(not committed; data, VAE and latents are shared by all runs in `training/data/` and `training/runs/`).
- VAE: KL-regularised conv autoencoder, factor 4 (64×64 → 16×16×4), {VAE_STEPS} steps of 32 random 32×32 crops,
  L1 + MSE + 1e-5·KL, Adam 1e-3 cosine. The shipped VAE's run was cut from 6000 to 3000 steps at step 1110 (its
  cosine schedule changed mid-run), so a fresh run trains an equivalent VAE, not the same weights (64×64
  reconstruction 2.84/255 against 2.69). Reconstruction mean abs error per bucket (/255): {', '.join(f'{k} {v:.2f}' for k, v in stats['reconstruction_error'].items())}.
- Latents: the frozen encoder's posterior means, cached once.
{chr(10).join(training_md)}
- Text encoder + UNet, trained jointly on SD's scaled_linear schedule (1000 steps), 10% caption dropout (empty
  prompt = the unconditional branch for classifier-free guidance), AdamW 6e-4 constant after 250 warm-up steps,
  batch 64 (44 for 96×64/64×96, 16 for 128×128), EMA 0.999.
- Hardware: 2 shared CPU cores, PyTorch 1.13 with one thread (OpenMP's spinning barriers made two threads about
  5× slower per step while other jobs shared the cores).

## Evaluation

`npm run eval:model` generates 240 fixed prompts with fixed seeds through the TypeScript engine (70 use a held-out
combination) and scores them with an analytic judge (`training/eval/judge.ts`): palette segmentation with the
border's colour as background, connected components, a k-NN on rotation-invariant shape descriptors (hole ratio,
fill of the circumscribed disc, radial profile spread and harmonics) fitted only on procedural ground truth,
centroid → 3×3 cell for position, components of the asked colour for counts. Colour/shape/colour+shape ask that
an object of the asked colour / shape / both exists; position is scored on `position` prompts, count on `count`
prompts.

{eval_md}

![contact sheet](contact-sheet.png)

`contact-sheet.txt` lists the 16 prompts (row by row, guidance 5, 20 steps).

## Parity with the PyTorch reference

`bash training/parity.sh` runs `training/reference_sampler.py` (the same weights read from these ONNX files,
torch CPU generator seeds, diffusers' Euler and DDIM maths) and the TypeScript engine on the same prompt and
seeds. {a.parity or 'Result: not recorded yet.'}

## Limits

{limits_md}- Counting is weak (two thirds of the `two …` / `three …` prompts get the exact count).
- 64×64 native; 96×64, 64×96 and 128×128 work, other sizes are out of distribution.
- Attribute binding with two or three objects is weaker than with one; counts above three do not exist.
- Words outside the world (see `training/world.py`) carry no meaning for it.

## Licence

Code and weights: same licence as the imagine-bot repository. The training data is generated by
`training/world.py`; no external data or pretrained weights were used.
"""
    with open(os.path.join(out, 'README.md'), 'w') as f:
        f.write(card)
    print('wrote', os.path.join(out, 'README.md'))
    if res:
        write_benchmarks(res, step, a.parity)


START, END = '<!-- embedded-model:start -->', '<!-- embedded-model:end -->'


def targets_md(s):
    if not s:
        return ''
    targets = (('colour', 'colour', 0.95), ('shape', 'shape', 0.85), ('colourShape', 'colour+shape', 0.8),
               ('position', 'position', 0.8))
    met = [name for k, name, t in targets if s[k] is not None and s[k] >= t]
    missed = [name for k, name, t in targets if name not in met]
    if not missed:
        return 'All four are met.'
    return f"Met: {', '.join(met) or 'none'}; missed: {', '.join(missed)} (see the model card's limits)."


def write_benchmarks(res, step, parity):
    """Replaces (or appends) this model's section of BENCHMARKS.md, between markers."""
    g5 = res['results'].get('guidance 5', {}).get('all')
    g1 = res['results'].get('guidance 1', {}).get('all')
    rows = ['| setting | colour | shape | colour+shape | position | count |', '|---|---|---|---|---|---|']
    for name, s in (('guidance 5 (default)', g5), ('guidance 1 (no CFG)', g1)):
        if s:
            rows.append(f"| {name} | {pct(s['colour'])} | {pct(s['shape'])} | {pct(s['colourShape'])} | "
                        f"{pct(s['position'])} | {pct(s['count'])} |")
    held = res['results'].get('guidance 5', {}).get('heldOut')
    section = f"""{START}
## Embedded model ({NAME}, training step {step})

Prompt adherence on the fixed 240-prompt set (`npm run eval:model`, 20 steps, seeds fixed, 70 prompts on
held-out colour–shape combinations), judged analytically; the judge scores the generator's own ground truth at
{pct(res['judgeOnGroundTruth']['all']['colourShape'])} colour+shape.

{chr(10).join(rows)}

Held-out combinations at guidance 5: colour+shape {pct(held['colourShape']) if held else '–'}.
Targets: colour ≥ 95%, shape ≥ 85%, colour+shape ≥ 80%, position ≥ 80%. {targets_md(g5)}

Speed: a 2×2 grid at default settings (4 images, 20 Euler steps, guidance 5, UNet batch 8, 64×64) takes
{res['grid2x2MedianMs']:.0f} ms (median of 5; runs {', '.join(f'{t:.0f}' for t in res['grid2x2Ms'])} ms) through
onnxruntime-node on the CPU (2 cores).

Parity with the PyTorch reference (`bash training/parity.sh`): {parity or 'not recorded'}
{END}
"""
    path = os.path.join(ROOT, 'BENCHMARKS.md')
    text = open(path).read() if os.path.exists(path) else '# Benchmarks\n'
    if START in text and END in text:
        text = text[:text.index(START)] + section.rstrip('\n') + text[text.index(END) + len(END):]
    else:
        text = text.rstrip('\n') + '\n\n' + section
    with open(path, 'w') as f:
        f.write(text)
    print('wrote', path)


if __name__ == '__main__':
    main()
