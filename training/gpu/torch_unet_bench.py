#!/usr/bin/env python3
"""Time the SD-1.5-architecture UNet under PyTorch eager: the reference a user would otherwise pick, to compare with
`npm run bench:engine -- --sd15 --device cuda --model <the same architecture exported by build_sd15_random.py>`.

The UNet is the one build_sd15_random.py exports (diffusers' UNet2DConditionModel when importable, else its built-in
re-implementation with the same modules and parameter count), random weights, in eval mode under torch.no_grad().
One "step" is one UNet evaluation with classifier-free guidance: batch 2 × images (uncond + text), as the engine runs.

Examples:
  python3 training/gpu/torch_unet_bench.py --device cuda --dtype fp16                 # GPU: SD 1.5 size, 512², batch 1 and 4
  /usr/bin/python3 training/gpu/torch_unet_bench.py --tiny --device cpu --dtype fp32  # CPU check of the script only

Prints one line per batch size and, with --json FILE, writes the figures for BENCHMARKS.md.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import build_sd15_random as sd15  # noqa: E402  (same directory; builds the identical UNet)


def sync(device):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--dtype', choices=['fp16', 'fp32'], default='fp16')
    parser.add_argument('--size', type=int, default=512, help='image side in pixels (latents are size/8)')
    parser.add_argument('--batches', default='1,4', help='images per generation; the UNet batch is twice that (CFG)')
    parser.add_argument('--steps', type=int, default=20, help='timed UNet evaluations per batch size')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--tiny', action='store_true', help="build_sd15_random.py's scaled-down UNet (for CPU checks)")
    parser.add_argument('--builtin', action='store_true', help='use the built-in re-implementation even with diffusers')
    parser.add_argument('--json', help='also write the results to this file')
    opts = parser.parse_args()

    if opts.dtype == 'fp16' and not opts.device.startswith('cuda'):
        parser.error('fp16 convolutions need a CUDA device in this PyTorch; use --dtype fp32 on CPU')
    dtype = torch.float16 if opts.dtype == 'fp16' else torch.float32
    s = sd15.sizes(opts.tiny)
    libs = set() if opts.builtin else {lib for lib in ('diffusers',) if sd15.importable(lib)}
    torch.manual_seed(0)
    sd15.Ctx.device = 'cpu'
    unet = sd15.build_components(s, libs, 'latent_sample')['unet'].eval().to(opts.device, dtype)
    params = sd15.count_params(unet)
    source = 'diffusers UNet2DConditionModel' if 'diffusers' in libs else 'built-in re-implementation'
    gpu = torch.cuda.get_device_name(opts.device) if opts.device.startswith('cuda') else 'CPU'
    print(f'torch {torch.__version__}, {gpu}, {opts.dtype}, UNet from {source}, {params:,} parameters, '
          f'{opts.size}x{opts.size}, eager, no_grad', flush=True)

    latent = opts.size // 8
    results = []
    with torch.no_grad():
        for images in [int(b) for b in opts.batches.split(',')]:
            batch = 2 * images  # CFG: uncond + text
            sample = torch.randn(batch, 4, latent, latent, device=opts.device, dtype=dtype)
            context = torch.randn(batch, 77, s['cross'], device=opts.device, dtype=dtype)
            timestep = torch.tensor([500.0] * batch, device=opts.device, dtype=dtype)
            for _ in range(opts.warmup):
                unet(sample, timestep, context)
            sync(opts.device)
            times = []
            for _ in range(opts.steps):
                start = time.perf_counter()
                unet(sample, timestep, context)
                sync(opts.device)
                times.append(time.perf_counter() - start)
            median = statistics.median(times)
            row = {'images': images, 'unet_batch': batch, 'median_ms': median * 1000, 'min_ms': min(times) * 1000,
                   'steps_per_s': 1 / median, 'images_per_s_at_20_steps': images / (20 * median)}
            results.append(row)
            print(f'batch {images} image(s) (UNet batch {batch}): median {row["median_ms"]:.2f} ms per step, '
                  f'{row["steps_per_s"]:.1f} steps/s, {row["images_per_s_at_20_steps"]:.2f} images/s at 20 steps '
                  f'(UNet only)', flush=True)
    if opts.json:
        with open(opts.json, 'w') as f:
            json.dump({'torch': torch.__version__, 'device': gpu, 'dtype': opts.dtype, 'size': opts.size,
                       'unet': source, 'parameters': params, 'results': results}, f, indent=2)


if __name__ == '__main__':
    main()
