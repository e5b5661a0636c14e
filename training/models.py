"""The three networks, in Stable Diffusion's design but small: a KL VAE (factor 4), a transformer text encoder
and a cross-attention UNet. Plain ops only, so they export to ONNX for onnxruntime's CPU provider."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def norm(c):
    return nn.GroupNorm(8, c, eps=1e-5)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb=None):
        super().__init__()
        self.n1, self.c1 = norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.t = nn.Linear(temb, cout) if temb else None
        self.n2, self.c2 = norm(cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb=None):
        h = self.c1(F.silu(self.n1(x)))
        if self.t is not None:
            h = h + self.t(F.silu(emb))[:, :, None, None]
        h = self.c2(F.silu(self.n2(h)))
        return self.skip(x) + h


# ---------------------------------------------------------------- VAE

class Encoder(nn.Module):
    def __init__(self, ch=(32, 64, 64), z=4):
        super().__init__()
        self.cin = nn.Conv2d(3, ch[0], 3, padding=1)
        self.r0 = ResBlock(ch[0], ch[0])
        self.d0 = nn.Conv2d(ch[0], ch[1], 3, stride=2, padding=1)
        self.r1 = ResBlock(ch[1], ch[1])
        self.d1 = nn.Conv2d(ch[1], ch[2], 3, stride=2, padding=1)
        self.r2 = ResBlock(ch[2], ch[2])
        self.nout, self.cout = norm(ch[2]), nn.Conv2d(ch[2], 2 * z, 3, padding=1)

    def forward(self, x):
        h = self.r0(self.cin(x))
        h = self.r1(self.d0(h))
        h = self.r2(self.d1(h))
        return self.cout(F.silu(self.nout(h)))  # mean ‖ logvar


class Decoder(nn.Module):
    def __init__(self, ch=(32, 64, 64), z=4):
        super().__init__()
        self.cin = nn.Conv2d(z, ch[2], 3, padding=1)
        self.r2a, self.r2b = ResBlock(ch[2], ch[2]), ResBlock(ch[2], ch[2])
        self.u1 = nn.Conv2d(ch[2], ch[1], 3, padding=1)
        self.r1 = ResBlock(ch[1], ch[1])
        self.u0 = nn.Conv2d(ch[1], ch[0], 3, padding=1)
        self.r0 = ResBlock(ch[0], ch[0])
        self.nout, self.cout = norm(ch[0]), nn.Conv2d(ch[0], 3, 3, padding=1)

    def forward(self, z):
        h = self.r2b(self.r2a(self.cin(z)))
        h = self.r1(self.u1(F.interpolate(h, scale_factor=2.0, mode='nearest')))
        h = self.r0(self.u0(F.interpolate(h, scale_factor=2.0, mode='nearest')))
        return self.cout(F.silu(self.nout(h)))


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder, self.decoder = Encoder(), Decoder()


# ---------------------------------------------------------------- text encoder

class Attention(nn.Module):
    def __init__(self, dim, heads, ctx_dim=None):
        super().__init__()
        self.h = heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(ctx_dim or dim, dim, bias=False)
        self.v = nn.Linear(ctx_dim or dim, dim, bias=False)
        self.o = nn.Linear(dim, dim)

    def forward(self, x, ctx=None):
        ctx = x if ctx is None else ctx
        b, n, d = x.shape
        hd = d // self.h
        q = self.q(x).reshape(b, -1, self.h, hd).transpose(1, 2)
        k = self.k(ctx).reshape(b, -1, self.h, hd).transpose(1, 2)
        v = self.v(ctx).reshape(b, -1, self.h, hd).transpose(1, 2)
        a = torch.softmax(torch.matmul(q, k.transpose(2, 3)) * (1.0 / math.sqrt(hd)), dim=-1)
        return self.o(torch.matmul(a, v).transpose(1, 2).reshape(b, -1, d))


class TextLayer(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(d), Attention(d, heads)
        self.ln2, self.mlp = nn.LayerNorm(d), nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TextEncoder(nn.Module):
    """Bidirectional (the prompts are short and composition matters more than CLIP's causal mask)."""

    def __init__(self, vocab, max_len, d=128, layers=3, heads=4):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Parameter(torch.zeros(1, max_len, d))
        nn.init.normal_(self.pos, std=0.02)
        nn.init.normal_(self.tok.weight, std=0.02)
        self.layers = nn.ModuleList([TextLayer(d, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(d)

    def forward(self, ids):
        x = self.tok(ids.long()) + self.pos[:, : ids.shape[1]]
        for l in self.layers:
            x = l(x)
        return self.ln(x)


# ---------------------------------------------------------------- UNet

def coord_grid(x):
    """[b, 2, h, w] normalised (x, y) cell centres in [-1, 1], built from x's own shape with tensor ops only
    (cumsum of ones), so the ONNX graph keeps dynamic height/width and the engine's inputs stay unchanged."""
    ones = torch.ones_like(x[:, :1])
    xs = (ones.cumsum(3) - 0.5) / ones.sum(3, keepdim=True) * 2.0 - 1.0
    ys = (ones.cumsum(2) - 0.5) / ones.sum(2, keepdim=True) * 2.0 - 1.0
    return torch.cat([xs, ys], 1)


POS_FREQS = (1.0, 2.0, 4.0)


class PositionEmbedding2d(nn.Module):
    """Learned projection of Fourier features of the normalised coordinates: the same canvas place gets the same
    embedding at 64×64, 96×64 or 128×128, so "top left" in the prompt can attend to a place."""

    def __init__(self, c):
        super().__init__()
        self.proj = nn.Linear(2 + 4 * len(POS_FREQS), c)

    def forward(self, x):
        g = coord_grid(x)
        feats = [g] + [f(math.pi * k * g) for k in POS_FREQS for f in (torch.sin, torch.cos)]
        b, _, h, w = x.shape
        return self.proj(torch.cat(feats, 1).reshape(b, -1, h * w).transpose(1, 2))


class Transformer2d(nn.Module):
    def __init__(self, c, ctx_dim, heads=4, coords=False):
        super().__init__()
        self.n, self.pin, self.pout = norm(c), nn.Conv2d(c, c, 1), nn.Conv2d(c, c, 1)
        self.pos = PositionEmbedding2d(c) if coords else None
        self.ln1, self.self_attn = nn.LayerNorm(c), Attention(c, heads)
        self.ln2, self.cross = nn.LayerNorm(c), Attention(c, heads, ctx_dim)
        self.ln3, self.ff = nn.LayerNorm(c), nn.Sequential(nn.Linear(c, 2 * c), nn.GELU(), nn.Linear(2 * c, c))

    def forward(self, x, ctx):
        b, c, h, w = x.shape
        t = self.pin(self.n(x)).reshape(b, c, h * w).transpose(1, 2)
        if self.pos is not None:
            t = t + self.pos(x)
        t = t + self.self_attn(self.ln1(t))
        t = t + self.cross(self.ln2(t), ctx)
        t = t + self.ff(self.ln3(t))
        return x + self.pout(t.transpose(1, 2).reshape(b, c, h, w))


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    a = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(a), torch.sin(a)], dim=1)


class UNet(nn.Module):
    """coords=False is shapes-ldm-v1 (no position information: 6.7% on position prompts). coords=True adds
    CoordConv channels at conv_in and a 2-D position embedding to every attention block's tokens."""

    def __init__(self, ch=(48, 96, 128), ctx_dim=128, tdim=256, coords=False):
        super().__init__()
        c0, c1, c2 = ch
        self.ch0, self.coords = c0, coords
        self.temb = nn.Sequential(nn.Linear(c0 * 2, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        self.cin = nn.Conv2d(4 + (2 if coords else 0), c0, 3, padding=1)
        self.d0 = ResBlock(c0, c0, tdim)
        self.down0 = nn.Conv2d(c0, c0, 3, stride=2, padding=1)

        def tr(c):
            return Transformer2d(c, ctx_dim, coords=coords)
        self.d1, self.d1t = ResBlock(c0, c1, tdim), tr(c1)
        self.down1 = nn.Conv2d(c1, c1, 3, stride=2, padding=1)
        self.d2, self.d2t = ResBlock(c1, c2, tdim), tr(c2)
        self.m1, self.mt, self.m2 = ResBlock(c2, c2, tdim), tr(c2), ResBlock(c2, c2, tdim)
        self.u2, self.u2t = ResBlock(2 * c2, c2, tdim), tr(c2)
        self.u1, self.u1t = ResBlock(c2 + c1, c1, tdim), tr(c1)
        self.u0 = ResBlock(c1 + c0, c0, tdim)
        self.nout, self.cout = norm(c0), nn.Conv2d(c0, 4, 3, padding=1)
        nn.init.zeros_(self.cout.weight)
        nn.init.zeros_(self.cout.bias)

    def forward(self, x, t, ctx):
        # timestep may be [1] (broadcast over the batch) or [batch], int or float
        t = t.reshape(-1).float().expand(x.shape[0])
        e = self.temb(timestep_embedding(t, self.ch0 * 2))
        h0 = self.d0(self.cin(torch.cat([x, coord_grid(x)], 1) if self.coords else x), e)
        h1 = self.d1t(self.d1(self.down0(h0), e), ctx)
        h2 = self.d2t(self.d2(self.down1(h1), e), ctx)
        h = self.m2(self.mt(self.m1(h2, e), ctx), e)
        h = self.u2t(self.u2(torch.cat([h, h2], 1), e), ctx)
        h = F.interpolate(h, scale_factor=2.0, mode='nearest')
        h = self.u1t(self.u1(torch.cat([h, h1], 1), e), ctx)
        h = F.interpolate(h, scale_factor=2.0, mode='nearest')
        h = self.u0(torch.cat([h, h0], 1), e)
        return self.cout(F.silu(self.nout(h)))


def n_params(m):
    return sum(p.numel() for p in m.parameters())


class ExpertTextEncoder(nn.Module):
    """The text encoders of two expert denoisers side by side: [batch, seq, d_layout + d_detail]."""

    def __init__(self, layout, detail):
        super().__init__()
        self.layout, self.detail = layout, detail

    def forward(self, ids):
        return torch.cat([self.layout(ids), self.detail(ids)], -1)


class ExpertUNet(nn.Module):
    """Two denoisers split by noise level, as eDiff-I's expert denoisers: `layout` (v-prediction) for timesteps >=
    t_from, where sampling decides where things go, and `detail` (epsilon) below, where it draws them; each reads its
    own half of ExpertTextEncoder's output. Exported as one UNet that predicts epsilon, so any diffusers-style sampler
    runs it unchanged. Only one expert runs per call, chosen by the call's smallest timestep (samplers pass one
    timestep for the whole batch); written for TorchScript so that the export keeps the branch (an ONNX `If`)."""

    t_from: int
    split: int

    def __init__(self, layout, detail, t_from: int, alphas_cumprod, layout_ctx_dim: int = 128):
        super().__init__()
        self.layout, self.detail, self.t_from, self.split = layout, detail, t_from, layout_ctx_dim
        self.register_buffer('alphas_cumprod', alphas_cumprod, persistent=False)

    def forward(self, x, t, ctx):
        if bool(t.min() >= self.t_from):
            a = self.alphas_cumprod[t.reshape(-1)].reshape(-1, 1, 1, 1)
            return a.sqrt() * self.layout(x, t, ctx[:, :, :self.split]) + (1 - a).sqrt() * x  # v -> epsilon on x_t
        return self.detail(x, t, ctx[:, :, self.split:])
