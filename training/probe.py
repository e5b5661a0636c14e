"""Diagnostics behind the model card's account of why the shipped model is two experts.

Usage: /usr/bin/python3 training/probe.py denoise CHECKPOINT   x0 error at several t, white vs multi-resolution noise
       /usr/bin/python3 training/probe.py text CHECKPOINT ...  how far the text encoder's output moves per changed word
CHECKPOINT: a training checkpoint (EMA weights), e.g. training/runs/unet_final.pt (v1) or training/runs/v4/unet_final.pt.
"""
import json
import os
import random
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train  # noqa: E402
import world  # noqa: E402
from reference_sampler import load_pipeline  # noqa: E402


@torch.no_grad()
def denoise(checkpoint):
    """Mean squared error of the predicted clean latent on 64 training latents, per timestep."""
    tok, te, unet, _, scaling, prediction = load_pipeline(checkpoint=checkpoint)
    lat = torch.from_numpy(np.load(os.path.join(train.DATA, 'latents_64x64.npy'))[:64]) * scaling
    with open(os.path.join(train.DATA, 'scenes_64x64.json')) as f:
        scenes = json.load(f)[:64]
    py = random.Random(0)
    ctx = te(torch.tensor([tok(world.caption(py, s)) for s in scenes], dtype=torch.int64))
    ac = train.sd_alphas_cumprod()
    torch.manual_seed(0)
    for t in (50, 150, 300, 450, 600, 750, 900, 990):
        a = ac[t]
        row = []
        for noise in (torch.randn_like(lat), train.pyramid_noise(lat)):
            xt = a.sqrt() * lat + (1 - a).sqrt() * noise
            out = unet(xt, torch.full((64,), t), ctx)
            x0 = a.sqrt() * xt - (1 - a).sqrt() * out if prediction == 'v_prediction' else (xt - (1 - a).sqrt() * out) / a.sqrt()
            row.append(((x0 - lat) ** 2).mean().item())
        print(f't={t:4d} white {row[0]:.4f} multi-resolution {row[1]:.4f}')


@torch.no_grad()
def text(checkpoint):
    """Relative change of the whole hidden-state sequence when one word of a prompt changes."""
    tok, te = load_pipeline(checkpoint=checkpoint)[:2]
    base_prompt = 'a big red star at the top left on a white background'

    def enc(p):
        return te(torch.tensor([tok(p)], dtype=torch.int32))[0]
    base = enc(base_prompt)
    changes = {'colour': ('red', 'blue'), 'shape (star→circle)': ('star', 'circle'), 'shape (star→heart)': ('star', 'heart'),
               'position': ('at the top left', 'at the bottom right'), 'size': ('big', 'small')}
    moved = {k: ((enc(base_prompt.replace(a, b)) - base).norm() / base.norm()).item() for k, (a, b) in changes.items()}
    print(checkpoint, ', '.join(f'{k} {v:.3f}' for k, v in moved.items()))


if __name__ == '__main__':
    torch.set_num_threads(1)
    if len(sys.argv) < 3 or sys.argv[1] not in ('denoise', 'text'):
        sys.exit(__doc__)
    for ck in sys.argv[2:]:
        (denoise if sys.argv[1] == 'denoise' else text)(ck)
