"""Exports the trained model to ONNX in the diffusers/optimum layout under models/<name>/.

Usage: [TRAIN_RUN=v9|...|v1] /usr/bin/python3 training/export.py [--checkpoint training/runs/v4/unet.pt] [--detail-checkpoint F] [--out DIR]
Without --checkpoint it takes the run's unet_final.pt (EMA weights), or the EMA weights of its latest unet.pt;
--out defaults to models/<the run's name> (v9 -> shapes-ldm-v9). An experts run (v9) pairs two runs' final
weights in one UNet and one text encoder (models.ExpertUNet); its --checkpoint replaces the layout expert's,
--detail-checkpoint the detail expert's (to evaluate a run in progress).
The UNet's architecture (coords or not, experts) is written to unet/config.json as `imagine_coords` /
`imagine_experts`. Initializers keep their PyTorch names (no constant folding; onnxruntime folds at load), so
training/reference_sampler.py can rebuild the same networks from the ONNX files alone.
"""
import argparse
import json
import os
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import clip_tokenizer  # noqa: E402
from models import VAE, ExpertTextEncoder, ExpertUNet, TextEncoder, UNet  # noqa: E402
from train import (DATA, EXPERTS, RUN_DIR, RUN_NAME, RUNS, RUNS_CONFIG, TOKENIZER_DIR, prediction_of,  # noqa: E402
                   sd_alphas_cumprod, unet_config_of)

NAME = RUN_NAME
ROOT = os.path.dirname(HERE)
OPSET = 17
SCHEDULER = {
    '_class_name': 'EulerDiscreteScheduler',
    '_diffusers_version': '0.30.0',
    'beta_start': 0.00085,
    'beta_end': 0.012,
    'beta_schedule': 'scaled_linear',
    'num_train_timesteps': 1000,
    'prediction_type': 'epsilon',
    # "leading" + offset 1 (as SD 1.5) gives integer timesteps [951, 901, ..., 1] for every scheduler.
    'timestep_spacing': 'leading',
    'steps_offset': 1,
    'interpolation_type': 'linear',
    'use_karras_sigmas': False,
    'set_alpha_to_one': False,
    'skip_prk_steps': True,
    'clip_sample': False,
    'trained_betas': None,
}
DEFAULTS = {'num_inference_steps': 20, 'guidance_scale': 5.0, 'width': 64, 'height': 64}


class DecoderWrap(torch.nn.Module):
    def __init__(self, dec):
        super().__init__()
        self.decoder = dec

    def forward(self, latent_sample):
        return self.decoder(latent_sample)


class EncoderWrap(torch.nn.Module):
    """Returns the posterior mean (deterministic), where diffusers' legacy export returns a sample."""

    def __init__(self, enc):
        super().__init__()
        self.encoder = enc

    def forward(self, sample):
        return self.encoder(sample)[:, :4]


def export(module, args, path, inputs, outputs, axes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs, dynamic_axes=axes,
                          opset_version=OPSET, do_constant_folding=False)


def scripted(unet, example):
    """An ExpertUNet as TorchScript around its two traced experts, so that the export keeps its branch as an ONNX
    `If` and each step runs one expert (tracing the whole would keep only the branch the example takes)."""
    x, t, ctx = example
    with torch.no_grad():
        layout = torch.jit.trace(unet.layout.eval(), (x, t, ctx[:, :, :unet.split]))
        detail = torch.jit.trace(unet.detail.eval(), (x, t, ctx[:, :, unet.split:]))
    return torch.jit.script(ExpertUNet(layout, detail, unet.t_from, unet.alphas_cumprod, unet.split))


def store_half(path, weights):
    """Stores the float32 weights (the initializers named in `weights`) of an ONNX file as float16, each followed by a
    Cast back to float32, so the file is half the size while the graph, its inputs and outputs and its arithmetic stay float32 (onnxruntime folds the
    casts at load). Why: the experts model's two UNets and text encoders would be 34 MB in float32, over the 25 MB
    budget. Initializers keep their names with a `.fp16` suffix; reference_sampler.py reads them back the same way."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    m = onnx.load(path)
    g = m.graph
    inits, casts = [], []
    for i in g.initializer:
        if i.name in weights and i.data_type == TensorProto.FLOAT:
            inits.append(numpy_helper.from_array(numpy_helper.to_array(i).astype(np.float16), i.name + '.fp16'))
            casts.append(helper.make_node('Cast', [i.name + '.fp16'], [i.name], to=TensorProto.FLOAT))
        else:
            inits.append(i)
    del g.initializer[:]
    g.initializer.extend(inits)
    nodes = casts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def load_weights(checkpoint):
    s = torch.load(checkpoint)
    if 'ema_unet' in s:
        return s['ema_unet'], s['ema_te'], s['step'], unet_config_of(s), prediction_of(s)
    return s['unet'], s['te'], s['step'], unet_config_of(s), prediction_of(s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--checkpoint')
    ap.add_argument('--detail-checkpoint')
    ap.add_argument('--out', default=os.path.join(ROOT, 'models', NAME))
    a = ap.parse_args()
    with open(os.path.join(DATA, 'latent_stats.json')) as f:
        stats = json.load(f)
    tok = clip_tokenizer.ClipTokenizer(TOKENIZER_DIR)
    vocab, seq = len(tok.encoder), tok.max_length

    def networks(ckpt):
        unet_sd, te_sd, step, unet_cfg, prediction = load_weights(ckpt)
        unet, te = UNet(**unet_cfg), TextEncoder(vocab, seq)
        unet.load_state_dict(unet_sd)
        te.load_state_dict(te_sd)
        return unet, te, step, unet_cfg, prediction

    experts = None
    if EXPERTS:
        given = {'layout': a.checkpoint, 'detail': a.detail_checkpoint}
        parts = {k: networks(given[k] or os.path.join(RUNS_CONFIG[EXPERTS[k]]['dir'], 'unet_final.pt'))
                 for k in ('layout', 'detail')}
        (lu, lt, lstep, lcfg, lpred), (du, dt, dstep, dcfg, dpred) = parts['layout'], parts['detail']
        assert (lpred, dpred) == ('v_prediction', 'epsilon'), (lpred, dpred)
        unet, te = ExpertUNet(lu, du, EXPERTS['t_from'], sd_alphas_cumprod()), ExpertTextEncoder(lt, dt)
        experts = {'t_from': EXPERTS['t_from'], 'layout': {'run': EXPERTS['layout'], 'step': lstep, **lcfg, 'prediction': lpred},
                   'detail': {'run': EXPERTS['detail'], 'step': dstep, **dcfg, 'prediction': dpred}}
        ckpt, step, unet_cfg, prediction, hidden = f'runs {EXPERTS["layout"]} + {EXPERTS["detail"]}', max(lstep, dstep), dcfg, 'epsilon', 256
    else:
        ckpt = a.checkpoint or next(p for p in (os.path.join(RUN_DIR, 'unet_final.pt'), os.path.join(RUN_DIR, 'unet.pt'))
                                    if os.path.exists(p))
        unet, te, step, unet_cfg, prediction = networks(ckpt)
        hidden = 128
    vae = VAE()
    vae.load_state_dict(torch.load(os.path.join(RUNS, 'vae_final.pt')))
    out = a.out
    os.makedirs(out, exist_ok=True)

    shutil.rmtree(os.path.join(out, 'tokenizer'), ignore_errors=True)
    shutil.copytree(TOKENIZER_DIR, os.path.join(out, 'tokenizer'))
    export(te, (torch.ones(1, seq, dtype=torch.int32),), os.path.join(out, 'text_encoder', 'model.onnx'),
           ['input_ids'], ['last_hidden_state'], {'input_ids': {0: 'batch', 1: 'sequence'},
                                                  'last_hidden_state': {0: 'batch', 1: 'sequence'}})
    example = (torch.randn(2, 4, 16, 16), torch.tensor([500], dtype=torch.int64), torch.randn(2, seq, hidden))
    export(scripted(unet, example) if experts else unet, example,
           os.path.join(out, 'unet', 'model.onnx'), ['sample', 'timestep', 'encoder_hidden_states'], ['out_sample'],
           {'sample': {0: 'batch', 2: 'height', 3: 'width'}, 'timestep': {0: 'timestep_batch'},
            'encoder_hidden_states': {0: 'batch', 1: 'sequence'}, 'out_sample': {0: 'batch', 2: 'height', 3: 'width'}})
    export(DecoderWrap(vae.decoder), (torch.randn(1, 4, 16, 16),), os.path.join(out, 'vae_decoder', 'model.onnx'),
           ['latent_sample'], ['sample'], {'latent_sample': {0: 'batch', 2: 'height', 3: 'width'},
                                           'sample': {0: 'batch', 2: 'height', 3: 'width'}})
    export(EncoderWrap(vae.encoder), (torch.randn(1, 3, 64, 64),), os.path.join(out, 'vae_encoder', 'model.onnx'),
           ['sample'], ['latent_sample'], {'sample': {0: 'batch', 2: 'height', 3: 'width'},
                                           'latent_sample': {0: 'batch', 2: 'height', 3: 'width'}})

    if experts:
        for part, module in (('text_encoder', te), ('unet', unet)):
            store_half(os.path.join(out, part, 'model.onnx'), set(module.state_dict()))

    def dump(obj, *path):
        os.makedirs(os.path.join(out, *path[:-1]), exist_ok=True)
        with open(os.path.join(out, *path), 'w') as f:
            json.dump(obj, f, indent=2)
            f.write('\n')

    dump({
        '_class_name': 'OnnxStableDiffusionPipeline', '_diffusers_version': '0.30.0',
        'feature_extractor': [None, None], 'requires_safety_checker': False, 'safety_checker': [None, None],
        'scheduler': ['diffusers', SCHEDULER['_class_name']], 'text_encoder': ['diffusers', 'OnnxRuntimeModel'],
        'tokenizer': ['transformers', 'CLIPTokenizer'], 'unet': ['diffusers', 'OnnxRuntimeModel'],
        'vae_decoder': ['diffusers', 'OnnxRuntimeModel'], 'vae_encoder': ['diffusers', 'OnnxRuntimeModel'],
        'imagine_defaults': DEFAULTS,
        'imagine_training_step': step,
    }, 'model_index.json')
    dump({**SCHEDULER, 'prediction_type': prediction}, 'scheduler', 'scheduler_config.json')
    dump({'_class_name': 'CLIPTextModel', 'architectures': ['ImagineShapesTextEncoder'], 'hidden_size': hidden,
          'num_hidden_layers': 3, 'num_attention_heads': 4, 'max_position_embeddings': seq,
          'vocab_size': vocab, 'bos_token_id': tok.bos, 'eos_token_id': tok.eos, 'pad_token_id': tok.eos},
         'text_encoder', 'config.json')
    dump({'_class_name': 'UNet2DConditionModel', 'sample_size': 16, 'in_channels': 4, 'out_channels': 4,
          'block_out_channels': [48, 96, 128], 'cross_attention_dim': hidden, 'attention_head_dim': 4,
          'prediction_type': prediction,
          **({'imagine_experts': experts} if experts else {'imagine_coords': unet_cfg['coords']})}, 'unet', 'config.json')
    vae_cfg = {'_class_name': 'AutoencoderKL', 'sample_size': 64, 'in_channels': 3, 'out_channels': 3,
               'latent_channels': 4, 'block_out_channels': [32, 64, 64], 'scaling_factor': stats['scaling_factor'],
               'latent_rgb_factors': stats['latent_rgb_factors'], 'latent_rgb_bias': stats['latent_rgb_bias']}
    dump(vae_cfg, 'vae_decoder', 'config.json')
    dump(vae_cfg, 'vae_encoder', 'config.json')
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
    print(f'exported step {step} from {ckpt} to {out}: {total / 1e6:.1f} MB')


if __name__ == '__main__':
    main()
