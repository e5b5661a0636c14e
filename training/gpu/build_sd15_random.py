#!/usr/bin/env python3
"""Build a random-weight Stable Diffusion 1.5 *architecture* pipeline and export it to ONNX, diffusers layout.

Use it to time the TypeScript engine on a GPU machine: the layer sizes match SD 1.5, so the cost per step matches,
but the weights are random and the images are noise. Never commit the output (it is gigabytes; `artifacts/` is
git-ignored).

- UNet2DConditionModel: block_out_channels (320, 640, 1280, 1280), 2 layers per block, cross-attention dim 768,
  8 heads. 859,520,964 parameters.
- CLIP-L text encoder: 12 layers, hidden 768, 12 heads, 77 positions, vocab 49408. 123,060,480 parameters.
- AutoencoderKL: block_out_channels (128, 256, 512, 512), 4 latent channels, scaling 0.18215. Encoder 34,163,592
  and decoder 49,490,179 parameters, plus 92 for quant_conv/post_quant_conv.

With diffusers importable it takes the UNet and VAE from it, and with transformers the text encoder. Otherwise (or with
--builtin) it uses the self-contained PyTorch re-implementation below. That has the same modules, parameter counts
(checked by --count-params) and data flow.

Examples:
  python3 build_sd15_random.py --out artifacts/sd15-random --dtype both          # GPU: fp16 traced on CUDA
  python3 build_sd15_random.py --count-params                                     # no memory used (meta tensors)
  /usr/bin/python3 build_sd15_random.py --tiny --out /tmp/sd15-tiny --dtype both  # scaled-down check, torch 1.13 CPU

Output: <out>/sd15-random-fp32/ and/or <out>/sd15-random-fp16/, each with model_index.json, scheduler/,
tokenizer/ (a synthetic 49408-token CLIP vocabulary: correct ids for BOS/EOS/pad, made-up merges), text_encoder/,
unet/ (weights in unet/weights.pb, or model.onnx_data with --style optimum), vae_decoder/, vae_encoder/.
"""
import argparse
import inspect
import json
import math
import os
import shutil
import sys
import tempfile
import time
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, numpy_helper

SD15_PARAMS = {'unet': 859_520_964, 'text_encoder': 123_060_480, 'vae_encoder': 34_163_592 + 72,
               'vae_decoder': 49_490_179 + 20}


def sizes(tiny):
    if tiny:  # same structure, GroupNorm-compatible widths
        return dict(unet_channels=(32, 64, 64, 64), layers=2, heads=8, cross=64, text_hidden=64, text_layers=2,
                    text_heads=4, text_ff=128, vae_channels=(32, 32, 64, 64), vocab=49408, positions=77)
    return dict(unet_channels=(320, 640, 1280, 1280), layers=2, heads=8, cross=768, text_hidden=768, text_layers=12,
                text_heads=12, text_ff=3072, vae_channels=(128, 256, 512, 512), vocab=49408, positions=77)


# ----------------------------------------------------------------------------------------------------------------------
# Self-contained re-implementation (module structure and parameter shapes as in diffusers 0.2x / transformers CLIP)

class Ctx:
    device = 'cpu'  # 'meta' builds without allocating (parameter counting)


def conv(cin, cout, k, stride=1, padding=0):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=padding, device=Ctx.device)


def linear(cin, cout, bias=True):
    return nn.Linear(cin, cout, bias=bias, device=Ctx.device)


def group_norm(c, eps):
    return nn.GroupNorm(32, c, eps=eps, device=Ctx.device)


def layer_norm(c):
    return nn.LayerNorm(c, device=Ctx.device)


def attention(q, k, v, heads, mask=None):
    b, n, c = q.shape
    m = k.shape[1]
    d = c // heads
    q = q.reshape(b, n, heads, d).transpose(1, 2)
    k = k.reshape(b, m, heads, d).transpose(1, 2)
    v = v.reshape(b, m, heads, d).transpose(1, 2)
    scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(d))
    if mask is not None:
        scores = scores + mask
    return torch.matmul(scores.softmax(-1), v).transpose(1, 2).reshape(b, n, c)


class Attn(nn.Module):
    """diffusers Attention: q/k/v without bias, to_out with bias."""

    def __init__(self, dim, context_dim, heads, qkv_bias=False):
        super().__init__()
        self.heads = heads
        self.to_q = linear(dim, dim, qkv_bias)
        self.to_k = linear(context_dim, dim, qkv_bias)
        self.to_v = linear(context_dim, dim, qkv_bias)
        self.to_out = nn.ModuleList([linear(dim, dim)])

    def forward(self, x, context=None):
        context = x if context is None else context
        return self.to_out[0](attention(self.to_q(x), self.to_k(context), self.to_v(context), self.heads))


class GEGLU(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.proj = linear(dim, inner * 2)

    def forward(self, x):
        h, gate = self.proj(x).chunk(2, dim=-1)
        return h * F.gelu(gate)


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim, context_dim, heads):
        super().__init__()
        self.norm1, self.attn1 = layer_norm(dim), Attn(dim, dim, heads)
        self.norm2, self.attn2 = layer_norm(dim), Attn(dim, context_dim, heads)
        self.norm3 = layer_norm(dim)
        self.ff = nn.ModuleList([GEGLU(dim, 4 * dim), linear(4 * dim, dim)])

    def forward(self, x, context):
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), context)
        return x + self.ff[1](self.ff[0](self.norm3(x)))


class Transformer2D(nn.Module):
    """SD 1.5's Transformer2DModel: conv proj_in/proj_out (use_linear_projection False), one block."""

    def __init__(self, channels, context_dim, heads):
        super().__init__()
        self.norm = group_norm(channels, 1e-6)
        self.proj_in = conv(channels, channels, 1)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(channels, context_dim, heads)])
        self.proj_out = conv(channels, channels, 1)

    def forward(self, x, context):
        b, c, h, w = x.shape
        t = self.proj_in(self.norm(x)).reshape(b, c, h * w).transpose(1, 2)
        for block in self.transformer_blocks:
            t = block(t, context)
        return x + self.proj_out(t.transpose(1, 2).reshape(b, c, h, w))


class Resnet(nn.Module):
    def __init__(self, cin, cout, temb, eps):
        super().__init__()
        self.norm1 = group_norm(cin, eps)
        self.conv1 = conv(cin, cout, 3, padding=1)
        self.time_emb_proj = linear(temb, cout) if temb else None
        self.norm2 = group_norm(cout, eps)
        self.conv2 = conv(cout, cout, 3, padding=1)
        self.conv_shortcut = conv(cin, cout, 1) if cin != cout else None

    def forward(self, x, emb=None):
        h = self.conv1(F.silu(self.norm1(x)))
        if self.time_emb_proj is not None:
            h = h + self.time_emb_proj(F.silu(emb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.conv_shortcut is None else self.conv_shortcut(x)) + h


class Upsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = conv(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode='nearest'))


class UNet(nn.Module):
    """UNet2DConditionModel with SD 1.5's config (CrossAttnDown x3 + Down, mid cross-attn, Up + CrossAttnUp x3)."""

    def __init__(self, s):
        super().__init__()
        ch, layers, heads, cross = s['unet_channels'], s['layers'], s['heads'], s['cross']
        temb = ch[0] * 4
        self.temb_dim = ch[0]
        self.conv_in = conv(4, ch[0], 3, padding=1)
        self.time_embedding = nn.ModuleDict({'linear_1': linear(ch[0], temb), 'linear_2': linear(temb, temb)})
        self.down = nn.ModuleList()
        cout = ch[0]
        for i, c in enumerate(ch):
            cin, cout = cout, c
            block = nn.Module()
            block.resnets = nn.ModuleList([Resnet(cin if j == 0 else cout, cout, temb, 1e-5) for j in range(layers)])
            block.attentions = nn.ModuleList(
                [Transformer2D(cout, cross, heads) for _ in range(layers)] if i < len(ch) - 1 else [])
            block.downsample = conv(cout, cout, 3, stride=2, padding=1) if i < len(ch) - 1 else None
            self.down.append(block)
        self.mid_resnets = nn.ModuleList([Resnet(ch[-1], ch[-1], temb, 1e-5), Resnet(ch[-1], ch[-1], temb, 1e-5)])
        self.mid_attention = Transformer2D(ch[-1], cross, heads)
        rev = list(reversed(ch))
        self.up = nn.ModuleList()
        prev = rev[0]
        for i, cout in enumerate(rev):
            cin = rev[min(i + 1, len(ch) - 1)]
            block = nn.Module()
            block.resnets = nn.ModuleList([
                Resnet((prev if j == 0 else cout) + (cin if j == layers else cout), cout, temb, 1e-5)
                for j in range(layers + 1)])
            block.attentions = nn.ModuleList([Transformer2D(cout, cross, heads) for _ in range(layers + 1)] if i > 0 else [])
            block.upsample = Upsample(cout) if i < len(ch) - 1 else None
            self.up.append(block)
            prev = cout
        self.conv_norm_out = group_norm(ch[0], 1e-5)
        self.conv_out = conv(ch[0], 4, 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states):
        t = timestep.reshape(-1).expand(sample.shape[0]).float()
        half = self.temb_dim // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32, device=sample.device) / half)
        args = t[:, None] * freqs[None]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1).to(sample.dtype)  # flip_sin_to_cos
        emb = self.time_embedding['linear_2'](F.silu(self.time_embedding['linear_1'](emb)))
        ctx = encoder_hidden_states
        h = self.conv_in(sample)
        skips = [h]
        for block in self.down:
            for j, res in enumerate(block.resnets):
                h = res(h, emb)
                if len(block.attentions):
                    h = block.attentions[j](h, ctx)
                skips.append(h)
            if block.downsample is not None:
                h = block.downsample(h)
                skips.append(h)
        h = self.mid_attention(self.mid_resnets[0](h, emb), ctx)
        h = self.mid_resnets[1](h, emb)
        for block in self.up:
            for j, res in enumerate(block.resnets):
                h = res(torch.cat([h, skips.pop()], dim=1), emb)
                if len(block.attentions):
                    h = block.attentions[j](h, ctx)
            if block.upsample is not None:
                h = block.upsample(h)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


class CLIPText(nn.Module):
    """transformers CLIPTextModel (pre-LN, quick_gelu, causal mask, pooled at the argmax id = EOS)."""

    def __init__(self, s):
        super().__init__()
        d, self.heads = s['text_hidden'], s['text_heads']
        self.hidden = d
        self.token_embedding = nn.Embedding(s['vocab'], d, device=Ctx.device)
        self.position_embedding = nn.Embedding(s['positions'], d, device=Ctx.device)
        self.layers = nn.ModuleList()
        for _ in range(s['text_layers']):
            layer = nn.Module()
            layer.layer_norm1, layer.layer_norm2 = layer_norm(d), layer_norm(d)
            layer.q_proj, layer.k_proj, layer.v_proj, layer.out_proj = (linear(d, d) for _ in range(4))
            layer.fc1, layer.fc2 = linear(d, s['text_ff']), linear(s['text_ff'], d)
            self.layers.append(layer)
        self.final_layer_norm = layer_norm(d)

    def forward(self, input_ids):
        seq = input_ids.shape[1]
        x = self.token_embedding(input_ids.long()) + self.position_embedding.weight[:seq].unsqueeze(0)
        pos = torch.arange(seq, device=input_ids.device)
        mask = (pos[None, :] > pos[:, None]).to(x.dtype) * torch.finfo(x.dtype).min
        for layer in self.layers:
            h = layer.layer_norm1(x)
            x = x + layer.out_proj(attention(layer.q_proj(h), layer.k_proj(h), layer.v_proj(h), self.heads, mask))
            h = layer.fc1(layer.layer_norm2(x))
            x = x + layer.fc2(h * torch.sigmoid(1.702 * h))
        last = self.final_layer_norm(x)
        eos = input_ids.to(torch.int32).argmax(-1)
        pooled = torch.gather(last, 1, eos.long().reshape(-1, 1, 1).expand(-1, 1, self.hidden))[:, 0]
        return last, pooled


class VaeMidBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.resnets = nn.ModuleList([Resnet(c, c, None, 1e-6), Resnet(c, c, None, 1e-6)])
        self.group_norm = group_norm(c, 1e-6)
        self.attention = Attn(c, c, heads=1, qkv_bias=True)

    def forward(self, x):
        x = self.resnets[0](x)
        b, c, h, w = x.shape
        t = self.group_norm(x).reshape(b, c, h * w).transpose(1, 2)
        x = x + self.attention(t).transpose(1, 2).reshape(b, c, h, w)
        return self.resnets[1](x)


class VaeEncoder(nn.Module):
    def __init__(self, s, output):
        super().__init__()
        ch = s['vae_channels']
        self.output = output
        self.conv_in = conv(3, ch[0], 3, padding=1)
        self.down = nn.ModuleList()
        cout = ch[0]
        for i, c in enumerate(ch):
            cin, cout = cout, c
            block = nn.Module()
            block.resnets = nn.ModuleList([Resnet(cin if j == 0 else cout, cout, None, 1e-6) for j in range(2)])
            block.downsample = conv(cout, cout, 3, stride=2) if i < len(ch) - 1 else None  # asymmetric pad below
            self.down.append(block)
        self.mid = VaeMidBlock(ch[-1])
        self.conv_norm_out = group_norm(ch[-1], 1e-6)
        self.conv_out = conv(ch[-1], 8, 3, padding=1)
        self.quant_conv = conv(8, 8, 1)

    def forward(self, sample):
        h = self.conv_in(sample)
        for block in self.down:
            for res in block.resnets:
                h = res(h)
            if block.downsample is not None:
                h = block.downsample(F.pad(h, (0, 1, 0, 1)))
        moments = self.quant_conv(self.conv_out(F.silu(self.conv_norm_out(self.mid(h)))))
        if self.output == 'latent_parameters':
            return moments
        return moments[:, :4]  # posterior mean: timing is the same as .sample() and runs are repeatable


class VaeDecoder(nn.Module):
    def __init__(self, s):
        super().__init__()
        ch = list(reversed(s['vae_channels']))
        self.post_quant_conv = conv(4, 4, 1)
        self.conv_in = conv(4, ch[0], 3, padding=1)
        self.mid = VaeMidBlock(ch[0])
        self.up = nn.ModuleList()
        cout = ch[0]
        for i, c in enumerate(ch):
            cin, cout = cout, c
            block = nn.Module()
            block.resnets = nn.ModuleList([Resnet(cin if j == 0 else cout, cout, None, 1e-6) for j in range(3)])
            block.upsample = Upsample(cout) if i < len(ch) - 1 else None
            self.up.append(block)
        self.conv_norm_out = group_norm(ch[-1], 1e-6)
        self.conv_out = conv(ch[-1], 3, 3, padding=1)

    def forward(self, latent_sample):
        h = self.mid(self.conv_in(self.post_quant_conv(latent_sample)))
        for block in self.up:
            for res in block.resnets:
                h = res(h)
            if block.upsample is not None:
                h = block.upsample(h)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


# ----------------------------------------------------------------------------------------------------------------------
# diffusers / transformers builders (used when importable)

def importable(name):
    try:
        __import__(name)
        return True
    except ImportError:
        return False


def unet_config(s):
    ch = s['unet_channels']
    return {
        '_class_name': 'UNet2DConditionModel', '_diffusers_version': '0.6.0', 'act_fn': 'silu',
        'attention_head_dim': s['heads'], 'block_out_channels': list(ch), 'center_input_sample': False,
        'cross_attention_dim': s['cross'],
        'down_block_types': ['CrossAttnDownBlock2D'] * (len(ch) - 1) + ['DownBlock2D'],
        'downsample_padding': 1, 'flip_sin_to_cos': True, 'freq_shift': 0, 'in_channels': 4,
        'layers_per_block': s['layers'], 'mid_block_scale_factor': 1, 'norm_eps': 1e-05, 'norm_num_groups': 32,
        'out_channels': 4, 'sample_size': 64, 'up_block_types': ['UpBlock2D'] + ['CrossAttnUpBlock2D'] * (len(ch) - 1),
    }


def vae_config(s):
    ch = s['vae_channels']
    return {
        '_class_name': 'AutoencoderKL', '_diffusers_version': '0.6.0', 'act_fn': 'silu',
        'block_out_channels': list(ch), 'down_block_types': ['DownEncoderBlock2D'] * len(ch), 'in_channels': 3,
        'latent_channels': 4, 'layers_per_block': 2, 'norm_num_groups': 32, 'out_channels': 3, 'sample_size': 512,
        'scaling_factor': 0.18215, 'up_block_types': ['UpDecoderBlock2D'] * len(ch),
    }


def text_config(s):
    return {
        'architectures': ['CLIPTextModel'], 'model_type': 'clip_text_model', 'hidden_act': 'quick_gelu',
        'hidden_size': s['text_hidden'], 'intermediate_size': s['text_ff'], 'num_attention_heads': s['text_heads'],
        'num_hidden_layers': s['text_layers'], 'max_position_embeddings': s['positions'], 'vocab_size': s['vocab'],
        'projection_dim': s['text_hidden'], 'bos_token_id': 49406, 'eos_token_id': 49407, 'pad_token_id': 1,
        'layer_norm_eps': 1e-05,
    }


class ReturnTuple(nn.Module):
    """Adapts diffusers/transformers modules to plain tensors for tracing."""

    def __init__(self, fn, module):
        super().__init__()
        self.module = module
        self.fn = fn

    def forward(self, *args):
        return self.fn(self.module, *args)


def build_components(s, libs, vae_out):
    """libs: subset of {'diffusers', 'transformers'} to take the UNet/VAE resp. text encoder from."""
    mods = {'text_encoder': None, 'unet': None, 'vae_decoder': None, 'vae_encoder': None}
    if 'transformers' in libs:
        from transformers import CLIPTextConfig, CLIPTextModel
        tcfg = {k: v for k, v in text_config(s).items() if k not in ('architectures', 'model_type')}
        text = CLIPTextModel(CLIPTextConfig(**tcfg))
        mods['text_encoder'] = ReturnTuple(lambda m, ids: tuple(m(input_ids=ids, return_dict=False)[:2]), text)
    else:
        mods['text_encoder'] = CLIPText(s)
    if 'diffusers' in libs:
        from diffusers import AutoencoderKL, UNet2DConditionModel
        unet = UNet2DConditionModel(**{k: v for k, v in unet_config(s).items() if not k.startswith('_')})
        vae = AutoencoderKL(**{k: v for k, v in vae_config(s).items() if not k.startswith('_')})

        def encode(m, sample):
            moments = m.quant_conv(m.encoder(sample))
            return moments if vae_out == 'latent_parameters' else moments[:, :4]

        mods['unet'] = ReturnTuple(lambda m, x, t, c: m(x, t, c, return_dict=False)[0], unet)
        mods['vae_decoder'] = ReturnTuple(lambda m, z: m.decode(z, return_dict=False)[0], vae)
        mods['vae_encoder'] = ReturnTuple(encode, vae)
    else:
        mods['unet'], mods['vae_decoder'] = UNet(s), VaeDecoder(s)
        mods['vae_encoder'] = VaeEncoder(s, vae_out)
    return mods


def count_params(module):
    return sum(p.numel() for p in module.parameters())


# ----------------------------------------------------------------------------------------------------------------------
# Export

def to_fp16(model):
    """Graph-level fp32 -> fp16 for torch builds that cannot run fp16 on CPU (Resize's roi/scales stay fp32)."""
    g = model.graph
    keep = set()
    for node in g.node:
        if node.op_type == 'Resize':
            keep.update(node.input[1:3])

    def half(tensor):  # clip first: a float32 finfo.min mask constant must not become -inf (0 * -inf = NaN)
        arr = np.clip(numpy_helper.to_array(tensor), -65504, 65504)
        return numpy_helper.from_array(arr.astype(np.float16), tensor.name)

    for i, init in enumerate(g.initializer):
        if init.data_type == TensorProto.FLOAT and init.name not in keep:
            g.initializer[i].CopyFrom(half(init))
    for node in g.node:
        for attr in node.attribute:
            if node.op_type in ('Constant', 'ConstantOfShape') and attr.name == 'value' \
                    and attr.t.data_type == TensorProto.FLOAT and not (set(node.output) & keep):
                attr.t.CopyFrom(half(attr.t))
            if node.op_type == 'Cast' and attr.name == 'to' and attr.i == TensorProto.FLOAT:
                attr.i = TensorProto.FLOAT16
    for value in list(g.input) + list(g.output):
        if value.type.tensor_type.elem_type == TensorProto.FLOAT:
            value.type.tensor_type.elem_type = TensorProto.FLOAT16
    del g.value_info[:]
    return model


def export(module, args, path, input_names, output_names, dynamic_axes, opset, external, post=None):
    """Trace to a temp dir (torch spills >2 GB models to per-tensor files), then save as diffusers does."""
    kwargs = {}
    if 'dynamo' in inspect.signature(torch.onnx.export).parameters:
        kwargs['dynamo'] = False  # the TorchScript exporter: the one diffusers/optimum used for these layouts
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(path)) as tmp:
        tmp_path = os.path.join(tmp, 'model.onnx')
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter('ignore')
            torch.onnx.export(module, args, tmp_path, input_names=input_names, output_names=output_names,
                              dynamic_axes=dynamic_axes, opset_version=opset, do_constant_folding=True, **kwargs)
        model = onnx.load(tmp_path)  # pulls in external tensors too
        if post:
            model = post(model)
        if external:
            onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location=external,
                            convert_attribute=False)
        else:
            onnx.save_model(model, path)
        del model
    onnx.checker.check_model(path)  # path form handles >2 GB


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write('\n')


def bytes_to_unicode():
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def write_tokenizer(folder, vocab_size, style):
    """A CLIP-format vocabulary of the real size: 512 byte tokens, synthetic letter merges, BOS 49406, EOS 49407."""
    chars = bytes_to_unicode()
    letters = 'abcdefghijklmnopqrstuvwxyz'
    want = vocab_size - 2 * len(chars) - 2
    merges = []
    prefixes = list(letters)
    while len(merges) < want:
        longer = []
        for p in prefixes:
            for c in letters:
                for tail in (c + '</w>', c):
                    if len(merges) < want:
                        merges.append((p, tail))
                    if tail == c:
                        longer.append(p + c)
        prefixes = longer
    vocab = chars + [c + '</w>' for c in chars] + [a + b for a, b in merges] + ['<|startoftext|>', '<|endoftext|>']
    assert len(vocab) == vocab_size and len(set(vocab)) == vocab_size
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'vocab.json'), 'w', encoding='utf-8') as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(folder, 'merges.txt'), 'w', encoding='utf-8') as f:
        f.write('#version: 0.2\n' + ''.join(f'{a} {b}\n' for a, b in merges))
    pad = '!' if style == 'optimum' else '<|endoftext|>'
    write_json(os.path.join(folder, 'tokenizer_config.json'), {
        'add_prefix_space': False, 'bos_token': '<|startoftext|>', 'do_lower_case': True,
        'eos_token': '<|endoftext|>', 'errors': 'replace', 'model_max_length': 77, 'pad_token': pad,
        'tokenizer_class': 'CLIPTokenizer', 'unk_token': '<|endoftext|>'})
    write_json(os.path.join(folder, 'special_tokens_map.json'), {
        'bos_token': '<|startoftext|>', 'eos_token': '<|endoftext|>', 'pad_token': pad, 'unk_token': '<|endoftext|>'})


def build_pipeline(out, s, dtype, style, libs, device, opset, components, seed):
    torch.manual_seed(seed)
    fp16 = dtype == 'fp16'
    trace_half = fp16 and device.startswith('cuda')  # CPU torch (1.13) has no fp16 conv: convert the graph instead
    tdt = torch.float16 if trace_half else torch.float32
    post = to_fp16 if fp16 and not trace_half else None
    opt = style == 'optimum'
    vae_out = 'latent_parameters' if opt else 'latent_sample'
    B = 'batch_size' if opt else 'batch'
    Ctx.device = device
    mods = build_components(s, libs, vae_out)
    report = {}

    write_json(os.path.join(out, 'model_index.json'), {
        '_class_name': 'ORTStableDiffusionPipeline' if opt else 'OnnxStableDiffusionPipeline',
        '_diffusers_version': '0.6.0', 'feature_extractor': [None, None], 'requires_safety_checker': False,
        'safety_checker': [None, None], 'scheduler': ['diffusers', 'PNDMScheduler'],
        'text_encoder': ['diffusers', 'OnnxRuntimeModel'], 'tokenizer': ['transformers', 'CLIPTokenizer'],
        'unet': ['diffusers', 'OnnxRuntimeModel'], 'vae_decoder': ['diffusers', 'OnnxRuntimeModel'],
        'vae_encoder': ['diffusers', 'OnnxRuntimeModel']})
    write_json(os.path.join(out, 'scheduler', 'scheduler_config.json'), {
        '_class_name': 'PNDMScheduler', '_diffusers_version': '0.6.0', 'beta_start': 0.00085, 'beta_end': 0.012,
        'beta_schedule': 'scaled_linear', 'num_train_timesteps': 1000, 'set_alpha_to_one': False,
        'skip_prk_steps': True, 'steps_offset': 1, 'trained_betas': None, 'clip_sample': False})
    write_tokenizer(os.path.join(out, 'tokenizer'), s['vocab'], style)

    # dummy latent size for tracing only (all spatial axes are dynamic): SD's 64 on GPU, small on CPU to stay quick
    lat = 64 if device.startswith('cuda') else 8
    for name in components:
        m = mods[name].to(device=device, dtype=tdt).eval()
        report[name] = count_params(m)
        t0 = time.time()
        path = os.path.join(out, name, 'model.onnx')
        if name == 'text_encoder':
            ids = torch.full((1, s['positions']), 49407, dtype=torch.int64 if opt else torch.int32, device=device)
            ids[0, 0] = 49406
            seq = 'sequence_length' if opt else 'sequence'
            export(m, (ids,), path, ['input_ids'], ['last_hidden_state', 'pooler_output'],
                   {'input_ids': {0: B, 1: seq}, 'last_hidden_state': {0: B, 1: seq}, 'pooler_output': {0: B}},
                   opset, None, post)
            write_json(os.path.join(out, name, 'config.json'), text_config(s))
        elif name == 'unet':
            sample = torch.randn(2, 4, lat, lat, device=device, dtype=tdt)
            # convert script (after Nov 2022): float timestep [batch]; optimum >= Nov 2024: float scalar
            timestep = torch.tensor(981.0, device=device, dtype=tdt) if opt else torch.tensor([981.0, 981.0], device=device, dtype=tdt)
            ctx = torch.randn(2, s['positions'], s['cross'], device=device, dtype=tdt)
            seq = 'sequence_length' if opt else 'sequence'
            axes = {'sample': {0: B, 2: 'height', 3: 'width'}, 'encoder_hidden_states': {0: B, 1: seq},
                    'out_sample': {0: B, 2: 'height', 3: 'width'}}
            if not opt:
                axes['timestep'] = {0: 'batch'}
            export(m, (sample, timestep, ctx), path, ['sample', 'timestep', 'encoder_hidden_states'], ['out_sample'],
                   axes, opset, 'model.onnx_data' if opt else 'weights.pb', post)
            write_json(os.path.join(out, name, 'config.json'), unet_config(s))
        elif name == 'vae_decoder':
            z = torch.randn(1, 4, lat, lat, device=device, dtype=tdt)
            export(m, (z,), path, ['latent_sample'], ['sample'],
                   {'latent_sample': {0: B, 2: 'latent_height', 3: 'latent_width'},
                    'sample': {0: B, 2: 'sample_height', 3: 'sample_width'}}, opset, None, post)
            write_json(os.path.join(out, name, 'config.json'), vae_config(s))
        elif name == 'vae_encoder':
            img = torch.rand(1, 3, lat * 8, lat * 8, device=device, dtype=tdt) * 2 - 1
            export(m, (img,), path, ['sample'], [vae_out],
                   {'sample': {0: B, 2: 'sample_height', 3: 'sample_width'},
                    vae_out: {0: B, 2: 'latent_height', 3: 'latent_width'}}, opset, None, post)
            write_json(os.path.join(out, name, 'config.json'), vae_config(s))
        mods[name] = None  # free memory before the next component
        m.cpu()
        del m
        size = sum(os.path.getsize(os.path.join(out, name, f)) for f in os.listdir(os.path.join(out, name)))
        print(f'  {name}: {report[name]:,} params, {size / 2**20:.1f} MiB, exported in {time.time() - t0:.0f}s',
              flush=True)
    if device.startswith('cuda'):
        torch.cuda.empty_cache()
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default='artifacts/sd15-random')
    parser.add_argument('--dtype', choices=['fp16', 'fp32', 'both'], default='both')
    parser.add_argument('--style', choices=['convert', 'optimum'], default='convert',
                        help='I/O generation: convert = int32 ids, float timestep [batch], latent_sample, '
                             'unet/weights.pb; optimum = int64 ids, scalar timestep, latent_parameters, model.onnx_data')
    parser.add_argument('--components', default='text_encoder,unet,vae_decoder,vae_encoder')
    parser.add_argument('--tiny', action='store_true', help='scaled-down widths/depths (same structure) for checks')
    parser.add_argument('--builtin', action='store_true',
                        help='use the built-in re-implementation even where diffusers/transformers are importable')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--opset', type=int, default=14 if torch.__version__ < '2' else 17)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--count-params', action='store_true',
                        help='build on the meta device, print parameter counts vs SD 1.5, export nothing')
    opts = parser.parse_args()

    s = sizes(opts.tiny)
    libs = set() if opts.builtin else {lib for lib in ('diffusers', 'transformers') if importable(lib)}
    print(f'torch {torch.__version__}, onnx {onnx.__version__}, device {opts.device}; UNet/VAE from '
          f'{"diffusers" if "diffusers" in libs else "the built-in re-implementation"}, text encoder from '
          f'{"transformers" if "transformers" in libs else "the built-in re-implementation"}')
    if opts.count_params:
        ok = True
        for label, use in [('built-in', set())] + ([('library', libs)] if libs else []):
            Ctx.device = 'meta'
            mods = build_components(s, use, 'latent_sample')  # library modules allocate on CPU
            if 'diffusers' in use:  # one AutoencoderKL holds both halves
                mods = {'text_encoder': mods['text_encoder'], 'unet': mods['unet'], 'vae': mods['vae_decoder']}
            elif use:
                mods = {'text_encoder': mods['text_encoder']}
            for name, m in mods.items():
                n = count_params(m)
                full = SD15_PARAMS['vae_encoder'] + SD15_PARAMS['vae_decoder'] if name == 'vae' else SD15_PARAMS[name]
                expected = None if opts.tiny else full
                ok = ok and (expected is None or n == expected)
                print(f'  {label} {name}: {n:,}' + ('' if expected is None else f' (SD 1.5: {expected:,})'))
        sys.exit(0 if ok else 1)

    components = [c for c in opts.components.split(',') if c]
    dtypes = ['fp32', 'fp16'] if opts.dtype == 'both' else [opts.dtype]
    for dtype in dtypes:
        out = os.path.join(opts.out, f'sd15-random-{dtype}')
        shutil.rmtree(out, ignore_errors=True)
        print(f'{out}:', flush=True)
        build_pipeline(out, s, dtype, opts.style, libs, opts.device, opts.opset, components, opts.seed)


if __name__ == '__main__':
    main()
