"""Trains the embedded model in resumable stages: data -> vae -> latents -> unet.

Usage: [TRAIN_RUN=v10|v9|...|v1] /usr/bin/python3 training/train.py [stage ...]   (no stage = all, in order)
Every stage skips itself when its output exists, and the two training stages checkpoint every few minutes
and resume from there with their RNG states, so an interrupted run continues where it was.
data, the VAE (training/runs/vae_final.pt) and the latents cache are shared by all runs; each run has its own
UNet + text encoder directory (RUNS_CONFIG below), so a new run never resumes from another run's checkpoints.
"""
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import clip_tokenizer  # noqa: E402
import world  # noqa: E402
from models import VAE, TextEncoder, UNet, n_params  # noqa: E402

DATA = os.path.join(HERE, 'data')
RUNS = os.path.join(HERE, 'runs')
TOKENIZER_DIR = os.path.join(DATA, 'tokenizer')
BUCKETS = {  # name: (width, height, count, batch size)
    '64x64': (64, 64, 40000, 64),
    '96x64': (96, 64, 5000, 44),
    '64x96': (64, 96, 5000, 44),
    '128x128': (128, 128, 2500, 16),
}
BUCKET_P = {'64x64': 0.8, '96x64': 0.08, '64x96': 0.08, '128x128': 0.04}
VAE_STEPS, VAE_BATCH, VAE_CROP = 3000, 32, 32
# v1 = models/shapes-ldm-v1 (first release, kept reproducible); v2 adds position information to the UNet;
# v3 also trains with multi-resolution noise (see pyramid_noise); v4 also predicts v (see stage_unet). Issue 3:
# v1-v3 drew the same picture whatever position words the prompt had.
RUNS_CONFIG = {
    'v1': dict(dir=RUNS, name='shapes-ldm-v1', unet=dict(coords=False), noise='white', prediction='epsilon'),
    'v2': dict(dir=os.path.join(RUNS, 'v2'), name='shapes-ldm-v2', unet=dict(coords=True), noise='white', prediction='epsilon'),
    'v3': dict(dir=os.path.join(RUNS, 'v3'), name='shapes-ldm-v3', unet=dict(coords=True), noise='pyramid', prediction='epsilon'),
    'v4': dict(dir=os.path.join(RUNS, 'v4'), name='shapes-ldm-v4', unet=dict(coords=True), noise='pyramid', prediction='v_prediction',
               # v-prediction with this noise learns position late (19% at step 4797, 91% at 7930): a longer run
               unet_steps=12000),
    # v4 with pyramid noise only where the layout is decided: v4's shapes stayed blobs (25% at step 7930), perhaps
    # because pyramid noise carries less high-frequency noise than the white noise the sampler meets. Stopped at
    # step 1350 for v6-v9.
    'v5': dict(dir=os.path.join(RUNS, 'v5'), name='shapes-ldm-v5', unet=dict(coords=True), noise='pyramid-high', prediction='v_prediction',
               unet_steps=12000),
    # v4 up to step 9584 (where it placed 100% of objects right), then a second phase for detail. v4 denoises half as
    # well as v1 at low noise (x0 error 0.0069 vs 0.0033 at t = 50) because 72% of its loss comes from steps above
    # t = 600; an image-space floor of 0.1 instead of 1 cuts that to 39%, and white noise below t = 600 is what the
    # sampler meets there. Steps before 9584 are v4's exactly (same random streams).
    'v6': dict(dir=os.path.join(RUNS, 'v6'), name='shapes-ldm-v6', unet=dict(coords=True), noise='pyramid', prediction='v_prediction',
               unet_steps=12000, phase2=dict(from_step=9584, noise='pyramid-high', pyramid_from_t=600, floor_low=0.1, floor_high=0.1)),
    # v4 up to step 9584, then v4's recipe only where sampling decides the layout (t > 800: its first four steps)
    # and v1's below (white noise, image-space weight min(SNR, 5), as epsilon with min-SNR-5), where the shapes are
    # drawn: v1 draws clean shapes and takes the layout from x_t, which by then holds the layout the text chose.
    'v7': dict(dir=os.path.join(RUNS, 'v7'), name='shapes-ldm-v7', unet=dict(coords=True), noise='pyramid', prediction='v_prediction',
               unet_steps=12000, phase2=dict(from_step=9584, noise='pyramid-high', pyramid_from_t=800, floor_low=0.0, floor_high=1.0)),
    # v7's second phase from the start: no v4 phase (stopped at step 950 for v9).
    'v8': dict(dir=os.path.join(RUNS, 'v8'), name='shapes-ldm-v8', unet=dict(coords=True), noise='pyramid-high', prediction='v_prediction',
               unet_steps=12000, phase2=dict(from_step=0, noise='pyramid-high', pyramid_from_t=800, floor_low=0.0, floor_high=1.0)),
    # Expert denoisers by noise level (as eDiff-I): v4 for t >= 801, where sampling decides the layout, and v1 below,
    # where it draws the shapes. v1-v8 each failed one of the two: v1 ignores position words, and a v4-family model
    # still drew blobs after 2416 (v6) or 1462 (v7) steps of a low-noise recipe. Trains nothing of its own.
    'v9': dict(dir=os.path.join(RUNS, 'v9'), name='shapes-ldm-v9', experts=dict(layout='v4', detail='v1', t_from=801)),
    # v9's experts, each trained only on the timesteps it serves, so no step is spent on noise levels the other
    # expert handles. Why: v9's UNets run 8000 steps side by side, over 4 h on the machine of
    # 2026-12-07 (1.9 s a step side by side; 0.6 s where v9 was timed). Result (layout 2000 steps, detail at 2084
    # of 5000, guidance 5): colour 27.9%, shape 7.1%, position 1.7%; most images are an empty background. The
    # layout expert's x0 predictions at t 951-801 stay the average over places (faint objects in every corner),
    # and a detail expert that never saw t > 800 does not commit to an object from there. Stopped; not exported.
    'v10l': dict(dir=os.path.join(RUNS, 'v10l'), name='shapes-ldm-v10l', unet=dict(coords=True), noise='pyramid',
                 prediction='v_prediction', unet_steps=2000, t_range=(801, 999)),
    'v10d': dict(dir=os.path.join(RUNS, 'v10d'), name='shapes-ldm-v10d', unet=dict(coords=False), noise='white',
                 prediction='epsilon', unet_steps=5000, t_range=(0, 800)),
    'v10': dict(dir=os.path.join(RUNS, 'v10'), name='shapes-ldm-v10', experts=dict(layout='v10l', detail='v10d', t_from=801)),
}
RUN = os.environ.get('TRAIN_RUN', 'v9')
if RUN not in RUNS_CONFIG:
    sys.exit(f'Expected `TRAIN_RUN` to be one of {", ".join(RUNS_CONFIG)}, got `{RUN}`')
EXPERTS = RUNS_CONFIG[RUN].get('experts')
RUN_DIR, RUN_NAME = RUNS_CONFIG[RUN]['dir'], RUNS_CONFIG[RUN]['name']
UNET_CONFIG = RUNS_CONFIG[RUN].get('unet')
NOISE = RUNS_CONFIG[RUN].get('noise')
PREDICTION = RUNS_CONFIG[RUN].get('prediction')
UNET_STEPS = int(os.environ.get('UNET_STEPS', RUNS_CONFIG[RUN].get('unet_steps', 8000)))
PHASE2 = RUNS_CONFIG[RUN].get('phase2')
T_LO, T_HI = RUNS_CONFIG[RUN].get('t_range', (0, 999))  # the timesteps this run trains on
PYRAMID_DISCOUNT = 0.8
PYRAMID_FROM_T = 600  # 'pyramid-high': pyramid noise for t > this, white noise below (phase2 may say otherwise)
RUN_DIR = os.environ.get('TRAIN_RUN_DIR', RUN_DIR)  # e.g. a scratch directory for a short sanity run
CHECKPOINT_EVERY_S = 180
CAPTION_DROPOUT = 0.1
MIN_SNR_GAMMA = 5.0

# One thread by default: on 2 cores shared with other jobs, OpenMP's spinning barriers made 2 threads
# about 5x slower per step than 1 (measured: 2.2 s vs 0.44 s per VAE step under load).
torch.set_num_threads(int(os.environ.get('TRAIN_THREADS', 1)))


def log(*a):
    print(time.strftime('%H:%M:%S'), *a, flush=True)


def atomic_save(obj, path):
    torch.save(obj, path + '.tmp')
    os.replace(path + '.tmp', path)


def sd_alphas_cumprod():
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float32) ** 2
    return torch.cumprod(1.0 - betas, dim=0)


def rng_state(py_rng):
    return dict(torch=torch.get_rng_state(), py=py_rng.getstate())


def set_rng_state(s, py_rng):
    torch.set_rng_state(s['torch'])
    py_rng.setstate(s['py'])


# ---------------------------------------------------------------- stage: data

def stage_data():
    done = os.path.join(DATA, 'done.json')
    if os.path.exists(done):
        return log('data: done already')
    os.makedirs(DATA, exist_ok=True)
    clip_tokenizer.save(TOKENIZER_DIR, world.WORDS)
    for k, (name, (w, h, n, _)) in enumerate(BUCKETS.items()):
        rng = random.Random(1000 + k)
        scenes = [world.sample_scene(rng, w, h) for _ in range(n)]
        imgs = np.stack([world.render(s) for s in scenes])
        np.save(os.path.join(DATA, f'images_{name}.npy'), imgs)
        with open(os.path.join(DATA, f'scenes_{name}.json'), 'w') as f:
            json.dump([world.ground_truth(s) for s in scenes], f)
        log(f'data: {name} {imgs.shape}')
    with open(done, 'w') as f:
        json.dump({k: v[2] for k, v in BUCKETS.items()}, f)


# ---------------------------------------------------------------- stage: vae

def to_float(imgs):
    return torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def stage_vae():
    final = os.path.join(RUNS, 'vae_final.pt')
    if os.path.exists(final):
        return log('vae: done already')
    os.makedirs(RUNS, exist_ok=True)
    torch.manual_seed(1)
    py = random.Random(1)
    images = {k: np.load(os.path.join(DATA, f'images_{k}.npy'), mmap_mode='r') for k in BUCKETS}
    vae = VAE()
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
    step = 0
    ckpt = os.path.join(RUNS, 'vae.pt')
    if os.path.exists(ckpt):
        s = torch.load(ckpt)
        vae.load_state_dict(s['model'])
        opt.load_state_dict(s['opt'])
        step = s['step']
        set_rng_state(s['rng'], py)
        log(f'vae: resumed at step {step}')
    log(f'vae: {n_params(vae)} params')
    last_ckpt, t0, hist = time.time(), time.time(), []
    while step < VAE_STEPS:
        lr = 1e-3 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / VAE_STEPS)))
        for g in opt.param_groups:
            g['lr'] = lr
        batch = []
        for _ in range(VAE_BATCH):
            k = py.choices(list(BUCKET_P), weights=list(BUCKET_P.values()))[0]
            arr = images[k]
            i = py.randrange(len(arr))
            h, w = arr.shape[1:3]
            y, x = py.randrange(h - VAE_CROP + 1), py.randrange(w - VAE_CROP + 1)
            batch.append(np.asarray(arr[i, y:y + VAE_CROP, x:x + VAE_CROP]))
        x = to_float(np.stack(batch))
        p = vae.encoder(x)
        mean, logvar = p[:, :4], p[:, 4:].clamp(-30, 20)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        rec = vae.decoder(z)
        rec_loss = (rec - x).abs().mean() + F.mse_loss(rec, x)
        kl = 0.5 * (mean ** 2 + logvar.exp() - 1 - logvar).mean()
        loss = rec_loss + 1e-5 * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        hist.append(rec_loss.item())
        if step % 100 == 0:
            log(f'vae step {step}/{VAE_STEPS} rec {np.mean(hist):.4f} kl {kl.item():.2f} lr {lr:.2e} '
                f'{(time.time() - t0) / 100:.3f}s/step')
            hist, t0 = [], time.time()
        if time.time() - last_ckpt > CHECKPOINT_EVERY_S or step == VAE_STEPS:
            atomic_save(dict(model=vae.state_dict(), opt=opt.state_dict(), step=step, rng=rng_state(py)), ckpt)
            last_ckpt = time.time()
    atomic_save(vae.state_dict(), final)
    log('vae: finished')


# ---------------------------------------------------------------- stage: latents

def load_vae():
    vae = VAE()
    vae.load_state_dict(torch.load(os.path.join(RUNS, 'vae_final.pt')))
    return vae.eval()


def stage_latents():
    stats_path = os.path.join(DATA, 'latent_stats.json')
    if os.path.exists(stats_path):
        return log('latents: done already')
    vae = load_vae()
    rec_err = {}
    with torch.no_grad():
        for k in BUCKETS:
            out = os.path.join(DATA, f'latents_{k}.npy')
            imgs = np.load(os.path.join(DATA, f'images_{k}.npy'), mmap_mode='r')
            lat, err = [], []
            for i in range(0, len(imgs), 256):
                x = to_float(np.asarray(imgs[i:i + 256]))
                m = vae.encoder(x)[:, :4]
                lat.append(m.numpy())
                if i < 1024:
                    err.append((vae.decoder(m).clamp(-1, 1) - x).abs().mean().item() * 127.5)
            np.save(out, np.concatenate(lat).astype(np.float32))
            rec_err[k] = float(np.mean(err))
            log(f'latents: {k} done, reconstruction mean abs error {rec_err[k]:.2f}/255')
    lat = np.load(os.path.join(DATA, 'latents_64x64.npy'))
    std = float(lat.std())
    scaling = 1.0 / std
    # Linear latent -> RGB preview factors, fitted by least squares on scaled latents vs 4x4-pooled RGB in [-1, 1].
    imgs = np.load(os.path.join(DATA, 'images_64x64.npy'), mmap_mode='r')[:4000]
    rgb = F.avg_pool2d(to_float(np.asarray(imgs)), 4).permute(0, 2, 3, 1).reshape(-1, 3).numpy()
    z = (lat[:4000] * scaling).transpose(0, 2, 3, 1).reshape(-1, 4)
    a = np.concatenate([z, np.ones((len(z), 1), np.float32)], 1)
    sol, *_ = np.linalg.lstsq(a, rgb, rcond=None)
    pred = np.clip(a @ sol, -1, 1)
    stats = dict(std=std, mean=float(lat.mean()), scaling_factor=scaling,
                 latent_rgb_factors=sol[:4].tolist(), latent_rgb_bias=sol[4].tolist(),
                 preview_mean_abs_error=float(np.abs(pred - rgb).mean() * 127.5), reconstruction_error=rec_err)
    with open(stats_path, 'w') as f:
        json.dump(stats, f, indent=2)
    log(f'latents: stats {stats}')


# ---------------------------------------------------------------- stage: unet (+ text encoder)

class CaptionBatcher:
    def __init__(self):
        self.tok = clip_tokenizer.ClipTokenizer(TOKENIZER_DIR)
        self.cache = {}

    def ids(self, text):
        if text not in self.cache:
            self.cache[text] = self.tok(text)
        return self.cache[text]


def pyramid_noise(x0):
    """Training noise with extra low-frequency energy (multi-resolution noise: white noise plus upsampled noise at
    1/2, 1/4, ... of the latent size, weighted discount**level, rescaled to unit variance per sample).

    Why: SD's scaled_linear schedule keeps sqrt(alpha_bar) = 0.068 of the image at t = 999, and an object here is a
    big low-frequency blob, so with white noise its place stays readable from x_t even at the noisiest step. The
    UNet then learns to take the layout from the noise and never needs the prompt's position words (v1 and v2 drew
    the same picture for `at the top left` and `at the bottom right`). Low-frequency noise is meant to hide that leak
    so that the layout has to come from the text; alone it did not (v3, epsilon loss). Sampling is unchanged: the
    engine still starts from white noise."""
    b, c, h, w = x0.shape
    noise = torch.randn_like(x0)
    level = 1
    while True:
        hh, ww = max(1, h >> level), max(1, w >> level)
        low = torch.randn(b, c, hh, ww)
        noise = noise + F.interpolate(low, size=(h, w), mode='bilinear', align_corners=False) * PYRAMID_DISCOUNT ** level
        if hh == 1 and ww == 1:
            break
        level += 1
    return noise / noise.std(dim=(1, 2, 3), keepdim=True)


def unet_config_of(checkpoint):
    """v1's checkpoints predate the config and have no coordinates."""
    return checkpoint.get('unet_config', dict(coords=False))


def prediction_of(checkpoint):
    """What the UNet outputs; checkpoints before v4 predate the key and predict epsilon."""
    return checkpoint.get('prediction', 'epsilon')


def build_text_encoder(vocab_size):
    return TextEncoder(vocab_size, clip_tokenizer.MAX_LENGTH)


def stage_unet():
    if EXPERTS:
        sys.exit(f'Run {RUN} trains no UNet: it pairs runs {EXPERTS["layout"]} and {EXPERTS["detail"]} (training/train.sh trains both)')
    os.makedirs(RUN_DIR, exist_ok=True)
    final = os.path.join(RUN_DIR, 'unet_final.pt')
    if os.path.exists(final):
        return log('unet: done already')
    torch.manual_seed(2)
    py = random.Random(2)
    with open(os.path.join(DATA, 'latent_stats.json')) as f:
        scaling = json.load(f)['scaling_factor']
    latents = {k: torch.from_numpy(np.load(os.path.join(DATA, f'latents_{k}.npy'))) * scaling for k in BUCKETS}
    scenes = {}
    for k in BUCKETS:
        with open(os.path.join(DATA, f'scenes_{k}.json')) as f:
            scenes[k] = json.load(f)
    caps = CaptionBatcher()
    unet, te = UNet(**UNET_CONFIG), build_text_encoder(len(caps.tok.encoder))
    ema_unet, ema_te = UNet(**UNET_CONFIG), build_text_encoder(len(caps.tok.encoder))
    ema_unet.load_state_dict(unet.state_dict())
    ema_te.load_state_dict(te.state_dict())
    params = list(unet.parameters()) + list(te.parameters())
    opt = torch.optim.AdamW(params, lr=6e-4, weight_decay=0.01)
    step = 0
    ckpt = os.path.join(RUN_DIR, 'unet.pt')
    if os.path.exists(ckpt):
        s = torch.load(ckpt)
        if unet_config_of(s) != UNET_CONFIG or prediction_of(s) != PREDICTION:
            sys.exit(f'{ckpt} was trained with unet_config {s.get("unet_config")}, {prediction_of(s)}; '
                     f'run {RUN} expects {UNET_CONFIG}, {PREDICTION}')
        unet.load_state_dict(s['unet'])
        te.load_state_dict(s['te'])
        ema_unet.load_state_dict(s['ema_unet'])
        ema_te.load_state_dict(s['ema_te'])
        opt.load_state_dict(s['opt'])
        step = s['step']
        set_rng_state(s['rng'], py)
        log(f'unet: resumed at step {step}')
    log(f'unet: run {RUN} in {RUN_DIR}, config {UNET_CONFIG}, noise {NOISE}, {PREDICTION}, t {T_LO}-{T_HI}, phase 2 {PHASE2}, {n_params(unet)} params, '
        f'text encoder {n_params(te)}, {UNET_STEPS} steps')
    ac = sd_alphas_cumprod()
    snr = ac / (1 - ac)
    if PREDICTION == 'v_prediction':
        # Why v: an epsilon loss weighs an error in the predicted image by SNR, 0.005 at t = 999, so where the
        # layout is decided the model gains almost nothing from the position words. A v loss weighs it by SNR + 1;
        # the min-SNR clamp only damps the easy low-noise steps: image-space weight min(SNR, 5) + floor, floor 1.
        def weight_of(floor):
            return (torch.clamp(snr, max=MIN_SNR_GAMMA) + floor) / (snr + 1)
    else:
        def weight_of(_floor):
            return torch.clamp(snr, max=MIN_SNR_GAMMA) / snr  # min-SNR-gamma weighting for epsilon prediction

    # (noise kind, pyramid noise above this t, loss weight per t) before and from PHASE2['from_step']
    phase1 = (NOISE, PYRAMID_FROM_T, weight_of(1.0))
    if PHASE2:
        above = PHASE2['pyramid_from_t']
        floor = torch.where(torch.arange(1000) > above, PHASE2['floor_high'], PHASE2['floor_low'])
        phase2 = (PHASE2['noise'], above, weight_of(floor))
    ema_pairs = [(e, m) for em, mm in ((ema_unet, unet), (ema_te, te)) for e, m in zip(em.parameters(), mm.parameters())]
    last_ckpt, t0, hist = time.time(), time.time(), []
    peak, warm = 6e-4, 250
    while step < UNET_STEPS:
        # constant after warm-up (EMA does the averaging), so UNET_STEPS can be cut or extended mid-run
        lr = peak * min(1.0, (step + 1) / warm)
        for g in opt.param_groups:
            g['lr'] = lr
        k = py.choices(list(BUCKET_P), weights=list(BUCKET_P.values()))[0]
        bs = BUCKETS[k][3]
        idx = [py.randrange(len(scenes[k])) for _ in range(bs)]
        texts = ['' if py.random() < CAPTION_DROPOUT else world.caption(py, scenes[k][i]) for i in idx]
        ids = torch.tensor([caps.ids(t) for t in texts], dtype=torch.int64)
        x0 = latents[k][idx]
        noise_kind, pyramid_from_t, weight = phase2 if PHASE2 and step >= PHASE2['from_step'] else phase1
        noise = pyramid_noise(x0) if noise_kind == 'pyramid' else torch.randn_like(x0)
        t = torch.randint(T_LO, T_HI + 1, (bs,))
        if noise_kind == 'pyramid-high':  # drawn after t, so the earlier recipes keep their random streams
            noise = torch.where((t > pyramid_from_t)[:, None, None, None], pyramid_noise(x0), noise)
        a = ac[t][:, None, None, None]
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        pred = unet(xt, t, te(ids))
        target = a.sqrt() * noise - (1 - a).sqrt() * x0 if PREDICTION == 'v_prediction' else noise
        loss = ((pred - target) ** 2).mean(dim=(1, 2, 3))
        loss = (loss * weight[t]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        decay = min(0.999, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, m in ema_pairs:
                e.mul_(decay).add_(m.detach(), alpha=1 - decay)
        hist.append(loss.item())
        if step % 50 == 0:
            log(f'unet step {step}/{UNET_STEPS} loss {np.mean(hist):.4f} lr {lr:.2e} {(time.time() - t0) / 50:.3f}s/step')
            hist, t0 = [], time.time()
        if time.time() - last_ckpt > CHECKPOINT_EVERY_S or step == UNET_STEPS:
            state = dict(unet=unet.state_dict(), te=te.state_dict(), ema_unet=ema_unet.state_dict(),
                         ema_te=ema_te.state_dict(), opt=opt.state_dict(), step=step, rng=rng_state(py),
                         unet_config=UNET_CONFIG, prediction=PREDICTION)
            atomic_save(state, ckpt)
            last_ckpt = time.time()
            log(f'unet: checkpoint at step {step}')
    atomic_save(dict(unet=ema_unet.state_dict(), te=ema_te.state_dict(), step=step, unet_config=UNET_CONFIG,
                     prediction=PREDICTION), final)
    log('unet: finished')


STAGES = {'data': stage_data, 'vae': stage_vae, 'latents': stage_latents, 'unet': stage_unet}

if __name__ == '__main__':
    if sys.argv[1:] == ['--experts']:  # for train.sh: the runs whose UNets an experts run pairs
        print(' '.join((EXPERTS['layout'], EXPERTS['detail'])) if EXPERTS else '')
        sys.exit(0)
    for name in sys.argv[1:] or list(STAGES):
        STAGES[name]()
