"""Writes the fixed evaluation set and the judge's procedural ground truth.

Usage: /usr/bin/python3 training/eval_set.py
Outputs (committed, read by training/eval/*.ts):
  training/eval/prompts.json      240 prompts with fixed seeds and what each must show (>= 1/4 held-out combos)
  training/eval/judge-data.json   labels of the judge's procedural images
  training/eval/judge-data.bin.gz uint8 RGB 64x64 images: first `train` (the judge's shape classifier fits on
                                  them), then one ground-truth rendering per eval prompt (the judge is validated
                                  on them before it scores the model)
"""
import gzip
import json
import os
import random
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import world  # noqa: E402

OUT = os.path.join(HERE, 'eval')
W = H = 64
JUDGE_TRAIN = 900


def place(rng, objects):
    ok = world._place(rng, objects, W, H)
    assert ok


def scene_for(rng, objs, bg, fixed_positions):
    """A ground-truth scene for a prompt; objects keep requested positions when given."""
    objects = [dict(o) for o in objs]
    place(rng, objects)
    if fixed_positions:
        for o, want in zip(objects, objs):
            px, py = world.POSITIONS[want['position']]
            o['position'] = want['position']
            o['cx'] = px * W + rng.uniform(-2, 2)
            o['cy'] = py * H + rng.uniform(-2, 2)
    return dict(width=W, height=H, objects=objects, background=dict(kind='plain', colours=[bg]), counting=False)


def main():
    rng = random.Random(2024)
    pairs = [(c, s) for c in world.COLOUR_NAMES for s in world.SHAPES]
    seen = [p for p in pairs if p not in world.HELD_OUT_SET]
    prompts, scenes = [], []

    def add(category, held_out, objs, bg, text, fixed_positions):
        i = len(prompts)
        sc = scene_for(rng, [dict(o) for o in objs], bg, fixed_positions)
        prompts.append(dict(id=i, category=category, prompt=text, seed=1000 + i, heldOut=held_out, background=bg,
                            objects=[dict(colour=o['colour'], shape=o['shape'], position=o.get('position') if fixed_positions else None)
                                     for o in objs],
                            count=len(objs)))
        scenes.append(sc)

    def bg_for(colours):
        return rng.choice([c for c in world.COLOUR_NAMES if c not in colours])

    def an(word):
        return ('an ' if word[0] in 'aeiou' else 'a ') + word

    # A: one object, size + position + background (120; 42 held out)
    for k in range(120):
        c, s = world.HELD_OUT[k % 6] if k < 42 else rng.choice(seen)
        size, pos, bg = rng.choice(['small', 'big']), rng.choice(world.POSITION_NAMES), bg_for([c])
        text = f'{an(size)} {c} {s} {world.POSITION_PHRASES[pos][0]} on {an(bg)} background'
        add('position', k < 42, [dict(colour=c, shape=s, size=size, position=pos)], bg, text, True)
    # B: one big object, no position (40; 12 held out)
    for k in range(40):
        c, s = world.HELD_OUT[k % 6] if k < 12 else rng.choice(seen)
        bg = bg_for([c])
        add('single', k < 12, [dict(colour=c, shape=s, size='big')], bg, f'a big {c} {s} on {an(bg)} background', False)
    # C: two different objects (40; 10 with one held-out combo)
    for k in range(40):
        while True:
            a = world.HELD_OUT[k % 6] if k < 10 else rng.choice(seen)
            b = rng.choice(seen)
            if a[0] != b[0] and a[1] != b[1]:
                break
        bg = bg_for([a[0], b[0]])
        objs = [dict(colour=a[0], shape=a[1], size='small'), dict(colour=b[0], shape=b[1], size='small')]
        add('pair', k < 10, objs, bg, f'{an(a[0])} {a[1]} and {an(b[0])} {b[1]} on {an(bg)} background', False)
    # D: counting (40; 6 held out)
    for k in range(40):
        c, s = world.HELD_OUT[k % 6] if k < 6 else rng.choice(seen)
        n = 2 + k % 2
        bg = bg_for([c])
        objs = [dict(colour=c, shape=s, size='small') for _ in range(n)]
        add('count', k < 6, objs, bg, f'{world.NUMBERS[n]} small {c} {s}s on {an(bg)} background', False)

    # The judge's own training images: random single and multi-object scenes, plain backgrounds, all combos.
    train_labels, train_imgs = [], []
    for _ in range(JUDGE_TRAIN):
        sc = world.sample_scene(rng, W, H, allow_held_out=True)
        sc['background'] = dict(kind='plain', colours=[bg_for([o['colour'] for o in sc['objects']])])
        train_imgs.append(world.render(sc))
        train_labels.append(world.ground_truth(sc))
    eval_imgs = [world.render(sc) for sc in scenes]
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, 'prompts.json'), 'w') as f:
        json.dump(dict(width=W, height=H, heldOutCombos=[list(p) for p in world.HELD_OUT], colours=world.COLOURS,
                       positions=world.POSITIONS, prompts=prompts), f, indent=1)
    with open(os.path.join(OUT, 'judge-data.json'), 'w') as f:
        json.dump(dict(width=W, height=H, train=train_labels,
                       validation=[world.ground_truth(sc) for sc in scenes]), f)
    data = np.stack(train_imgs + eval_imgs).astype(np.uint8).tobytes()
    with open(os.path.join(OUT, 'judge-data.bin.gz'), 'wb') as raw:
        with gzip.GzipFile(fileobj=raw, mode='wb', compresslevel=9, mtime=0) as f:
            f.write(data)
    held = sum(p['heldOut'] for p in prompts)
    print(f'{len(prompts)} prompts ({held} held out), {JUDGE_TRAIN} judge training images')


if __name__ == '__main__':
    main()
