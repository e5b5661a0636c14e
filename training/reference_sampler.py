"""PyTorch reference sampler: same weights, same seeds and same scheduler maths as diffusers, for parity checks.

Usage:
  /usr/bin/python3 training/reference_sampler.py --prompt "a red circle on a blue background" --seed 42 \
      [--model-dir models/shapes-ldm-v9 | --checkpoint training/runs/v4/unet.pt] [--scheduler euler|ddim] \
      [--steps 20] [--guidance 5] [--n 4] [--width 64 --height 64] [--out artifacts/reference]
Weights come from the ONNX files themselves (initializers keep their PyTorch names), or from a training
checkpoint's EMA weights. Latents of image i: torch.randn([1,4,h/4,w/4], generator=manual_seed(seed + i)).
Writes <out>/<i>.png and <out>/images.npy (uint8, [n, h, w, 3]).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import clip_tokenizer  # noqa: E402
from models import VAE, ExpertTextEncoder, ExpertUNet, TextEncoder, UNet  # noqa: E402

ROOT = os.path.dirname(HERE)
DEFAULT_MODEL = os.path.join(ROOT, 'models', 'shapes-ldm-v9')


def _from_onnx(module, path, prefix=''):
    import onnx
    from onnx import numpy_helper
    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(path).graph.initializer}
    # export.store_half's float16 copies: the graph casts them back to float32, and so does this
    inits.update({k[:-len('.fp16')]: v.astype(np.float32) for k, v in inits.items() if k.endswith('.fp16')})
    sd = module.state_dict()
    missing = [k for k in sd if prefix + k not in inits]
    if missing:
        raise RuntimeError(f'{path}: initializers missing for {missing[:5]} (deduplicated at export?)')
    module.load_state_dict({k: torch.from_numpy(inits[prefix + k].copy()) for k in sd})
    return module.eval()


def load_pipeline(model_dir=None, checkpoint=None):
    """Returns (tokenizer, text_encoder, unet, decoder, scaling_factor, prediction_type)."""
    if checkpoint:
        from train import RUNS, TOKENIZER_DIR, DATA, prediction_of, unet_config_of
        tok = clip_tokenizer.ClipTokenizer(TOKENIZER_DIR)
        s = torch.load(checkpoint)
        te, unet, vae = TextEncoder(len(tok.encoder), tok.max_length), UNet(**unet_config_of(s)), VAE()
        unet.load_state_dict(s.get('ema_unet', s['unet']))
        te.load_state_dict(s.get('ema_te', s['te']))
        vae.load_state_dict(torch.load(os.path.join(RUNS, 'vae_final.pt')))
        with open(os.path.join(DATA, 'latent_stats.json')) as f:
            scaling = json.load(f)['scaling_factor']
        return tok, te.eval(), unet.eval(), vae.decoder.eval(), scaling, prediction_of(s)
    tok = clip_tokenizer.ClipTokenizer(os.path.join(model_dir, 'tokenizer'))
    with open(os.path.join(model_dir, 'unet', 'config.json')) as f:
        unet_cfg = json.load(f)
    te = TextEncoder(len(tok.encoder), tok.max_length)
    if 'imagine_experts' in unet_cfg:
        e = unet_cfg['imagine_experts']
        te = ExpertTextEncoder(te, TextEncoder(len(tok.encoder), tok.max_length))
        unet = ExpertUNet(UNet(coords=e['layout']['coords']), UNet(coords=e['detail']['coords']), e['t_from'], alphas_cumprod())
    else:
        unet = UNet(coords=unet_cfg.get('imagine_coords', False))  # absent in shapes-ldm-v1
    te = _from_onnx(te, os.path.join(model_dir, 'text_encoder', 'model.onnx'))
    unet = _from_onnx(unet, os.path.join(model_dir, 'unet', 'model.onnx'))
    vae = VAE()
    _from_onnx(vae.decoder, os.path.join(model_dir, 'vae_decoder', 'model.onnx'), 'decoder.')
    with open(os.path.join(model_dir, 'vae_decoder', 'config.json')) as f:
        scaling = json.load(f)['scaling_factor']
    with open(os.path.join(model_dir, 'scheduler', 'scheduler_config.json')) as f:
        prediction = json.load(f).get('prediction_type', 'epsilon')
    return tok, te, unet, vae.decoder, scaling, prediction


def alphas_cumprod():
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float32) ** 2
    return torch.cumprod(1.0 - betas, dim=0)


class Euler:
    """diffusers EulerDiscreteScheduler, timestep_spacing='leading', steps_offset=1, s_churn=0."""

    def __init__(self, steps):
        ac = alphas_cumprod()
        ratio = 1000 // steps
        self.timesteps = (np.arange(0, steps) * ratio).round()[::-1].copy().astype(np.float32) + 1
        sig = np.array(((1 - ac) / ac) ** 0.5)
        sig = np.interp(self.timesteps, np.arange(0, len(sig)), sig)
        self.sigmas = torch.from_numpy(np.concatenate([sig, [0.0]]).astype(np.float32))
        self.init_noise_sigma = float((self.sigmas.max() ** 2 + 1) ** 0.5)

    def scale(self, x, i):
        return x / ((self.sigmas[i] ** 2 + 1) ** 0.5)

    def step(self, eps, i, x):
        sigma = self.sigmas[i]
        x0 = x - sigma * eps
        return x + (x - x0) / sigma * (self.sigmas[i + 1] - sigma)


class DDIM:
    """diffusers DDIMScheduler, eta=0, set_alpha_to_one=False, steps_offset=1, clip_sample=False."""

    def __init__(self, steps):
        self.ac = alphas_cumprod()
        self.ratio = 1000 // steps
        self.timesteps = (np.arange(0, steps) * self.ratio).round()[::-1].copy().astype(np.int64) + 1
        self.init_noise_sigma = 1.0

    def scale(self, x, i):
        return x

    def step(self, eps, i, x):
        t = int(self.timesteps[i])
        prev = t - self.ratio
        a_t = self.ac[t]
        a_prev = self.ac[prev] if prev >= 0 else self.ac[0]
        x0 = (x - (1 - a_t) ** 0.5 * eps) / a_t ** 0.5
        return a_prev ** 0.5 * x0 + (1 - a_prev) ** 0.5 * eps


SCHEDULERS = {'euler': Euler, 'ddim': DDIM}


@torch.no_grad()
def generate(pipe, prompt, seed, steps=20, guidance=5.0, n=1, width=64, height=64, scheduler='euler',
             negative_prompt=''):
    tok, te, unet, dec, scaling, prediction = pipe
    ac = alphas_cumprod()
    sch = SCHEDULERS[scheduler](steps)
    cond = te(torch.tensor([tok(prompt)] * n, dtype=torch.int32))
    cfg = guidance > 1.0
    ctx = torch.cat([te(torch.tensor([tok(negative_prompt)] * n, dtype=torch.int32)), cond]) if cfg else cond
    x = torch.cat([torch.randn([1, 4, height // 4, width // 4], generator=torch.Generator().manual_seed(seed + i))
                   for i in range(n)]) * sch.init_noise_sigma
    for i, t in enumerate(sch.timesteps):
        inp = sch.scale(torch.cat([x, x]) if cfg else x, i)
        # the ONNX UNet takes an int64 timestep; every schedule here has integer timesteps
        out = unet(inp, torch.tensor([int(t)], dtype=torch.int64), ctx)
        if cfg:
            u, c = out.chunk(2)
            out = u + guidance * (c - u)
        if prediction == 'v_prediction':
            # v -> epsilon on the DDPM-scale sample x_t (what both schedulers' scale() gives): eps = sqrt(a) v + sqrt(1-a) x_t
            a = ac[int(t)]
            out = a.sqrt() * out + (1 - a).sqrt() * sch.scale(x, i)
        x = sch.step(out, i, x)
    img = (dec(x / scaling) / 2 + 0.5).clamp(0, 1)
    return (img.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--prompt', required=True)
    ap.add_argument('--negative-prompt', default='')
    ap.add_argument('--seed', type=int, default=42)
    ap.add_argument('--steps', type=int, default=20)
    ap.add_argument('--guidance', type=float, default=5.0)
    ap.add_argument('--n', type=int, default=1)
    ap.add_argument('--width', type=int, default=64)
    ap.add_argument('--height', type=int, default=64)
    ap.add_argument('--scheduler', choices=list(SCHEDULERS), default='euler')
    ap.add_argument('--model-dir', default=DEFAULT_MODEL)
    ap.add_argument('--checkpoint')
    ap.add_argument('--out', default=os.path.join(ROOT, 'artifacts', 'reference'))
    a = ap.parse_args()
    torch.set_num_threads(int(os.environ.get('TRAIN_THREADS', 2)))
    pipe = load_pipeline(a.model_dir, a.checkpoint)
    imgs = generate(pipe, a.prompt, a.seed, a.steps, a.guidance, a.n, a.width, a.height, a.scheduler, a.negative_prompt)
    os.makedirs(a.out, exist_ok=True)
    np.save(os.path.join(a.out, 'images.npy'), imgs)
    from PIL import Image
    for i, im in enumerate(imgs):
        Image.fromarray(im).save(os.path.join(a.out, f'{i}.png'))
    print(f'wrote {len(imgs)} images to {a.out}')


if __name__ == '__main__':
    main()
