"""The procedural shapes world: scene sampling, rendering and captions.

Every image comes with its ground truth (per object: colour, shape, size, position, centre), so the
evaluation judge can be validated on real procedural images.
"""
import math
import random

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ['circle', 'square', 'triangle', 'star', 'heart', 'ring']
PLURAL = {s: s + 's' for s in SHAPES}
SHAPE_SYNONYMS = {'circle': ['circle', 'circle', 'disk'], 'ring': ['ring', 'ring', 'donut']}

# Well separated in RGB so that a nearest-colour judge is unambiguous.
COLOURS = {
    'red': (220, 30, 30),
    'orange': (245, 135, 15),
    'yellow': (245, 225, 30),
    'green': (30, 160, 50),
    'blue': (30, 70, 225),
    'purple': (135, 45, 185),
    'pink': (250, 135, 200),
    'white': (245, 245, 245),
    'black': (20, 20, 20),
}
COLOUR_NAMES = list(COLOURS)

SIZES = {'small': 0.13, 'big': 0.21}  # radius as a fraction of min(width, height)
SIZE_WORDS = {'small': ['small', 'small', 'little'], 'big': ['big', 'big', 'large']}

# Position name -> (x, y) as fractions of the canvas.
POSITIONS = {
    'centre': (0.5, 0.5),
    'left': (0.23, 0.5),
    'right': (0.77, 0.5),
    'top': (0.5, 0.23),
    'bottom': (0.5, 0.77),
    'top left': (0.23, 0.23),
    'top right': (0.77, 0.23),
    'bottom left': (0.23, 0.77),
    'bottom right': (0.77, 0.77),
}
POSITION_NAMES = list(POSITIONS)
POSITION_PHRASES = {
    'centre': ['in the centre', 'in the center', 'in the middle'],
    'left': ['on the left'],
    'right': ['on the right'],
    'top': ['at the top'],
    'bottom': ['at the bottom'],
    'top left': ['at the top left', 'in the top left corner'],
    'top right': ['at the top right', 'in the top right corner'],
    'bottom left': ['at the bottom left', 'in the bottom left corner'],
    'bottom right': ['at the bottom right', 'in the bottom right corner'],
}
NUMBERS = {2: 'two', 3: 'three'}

# Never drawn in training; the evaluation measures generalisation on them.
HELD_OUT = [
    ('red', 'star'),
    ('blue', 'heart'),
    ('green', 'ring'),
    ('yellow', 'triangle'),
    ('purple', 'circle'),
    ('orange', 'square'),
]
HELD_OUT_SET = set(HELD_OUT)

WORDS = sorted(set(
    'a an one two three and on in at the of with from to plain background gradient left right top bottom '
    'centre center middle corner'.split()
    + COLOUR_NAMES + [w for ws in SIZE_WORDS.values() for w in ws]
    + [w for s in SHAPES for w in SHAPE_SYNONYMS.get(s, [s])]
    + [w + 's' for s in SHAPES for w in SHAPE_SYNONYMS.get(s, [s])]
))


# ---------------------------------------------------------------- scenes

def _jitter(rng, amount):
    return rng.uniform(-amount, amount)


def sample_scene(rng, width=64, height=64, allow_held_out=False):
    """A random scene: background and 1-3 non-overlapping objects, with ground truth."""
    def pick_pair():
        while True:
            c, s = rng.choice(COLOUR_NAMES), rng.choice(SHAPES)
            if allow_held_out or (c, s) not in HELD_OUT_SET:
                return c, s

    r = rng.random()
    n = 1 if r < 0.55 else (2 if r < 0.85 else 3)
    same = n > 1 and rng.random() < 0.4  # a counting scene: n identical objects
    objects = []
    if same:
        c, s = pick_pair()
        size = rng.choice(['small', 'small', 'big'])
        objects = [dict(colour=c, shape=s, size=size) for _ in range(n)]
    else:
        for _ in range(n):
            c, s = pick_pair()
            objects.append(dict(colour=c, shape=s, size=rng.choice(['small', 'big'])))
    if not _place(rng, objects, width, height):
        return sample_scene(rng, width, height, allow_held_out)
    background = sample_background(rng, {o['colour'] for o in objects})
    return dict(width=width, height=height, objects=objects, background=background, counting=same)


def sample_background(rng, avoid):
    free = [c for c in COLOUR_NAMES if c not in avoid]
    kind = rng.choices(['plain', 'split', 'gradient'], weights=[0.6, 0.2, 0.2])[0]
    if kind == 'plain':
        return dict(kind='plain', colours=[rng.choice(free)])
    a, b = rng.sample(free, 2)
    direction = rng.choice(['vertical', 'horizontal'])
    return dict(kind=kind, colours=[a, b], direction=direction)


def _place(rng, objects, width, height):
    m = min(width, height)
    for _ in range(50):
        names = rng.sample(POSITION_NAMES, len(objects))
        ok = True
        for o, name in zip(objects, names):
            px, py = POSITIONS[name]
            o['position'] = name
            o['radius'] = SIZES[o['size']] * m * rng.uniform(0.92, 1.08)
            o['cx'] = px * width + _jitter(rng, 0.04 * width)
            o['cy'] = py * height + _jitter(rng, 0.04 * height)
            o['angle'] = _jitter(rng, 0.2)
        for i in range(len(objects)):
            for j in range(i):
                a, b = objects[i], objects[j]
                if math.hypot(a['cx'] - b['cx'], a['cy'] - b['cy']) < a['radius'] + b['radius'] + 0.03 * m:
                    ok = False
        if ok:
            return True
    return False


# ---------------------------------------------------------------- rendering

SS = 4  # supersampling factor for anti-aliasing


def _star_points(cx, cy, r, angle, k=5, inner=0.45):
    pts = []
    for i in range(2 * k):
        rr = r if i % 2 == 0 else r * inner
        t = angle - math.pi / 2 + i * math.pi / k
        pts.append((cx + rr * math.cos(t), cy + rr * math.sin(t)))
    return pts


def _heart_points(cx, cy, r, angle):
    pts = []
    for i in range(64):
        t = 2 * math.pi * i / 64
        x = 16 * math.sin(t) ** 3
        y = -(13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t))
        x, y = x / 17.0 * r, (y + 2.5) / 17.0 * r
        ca, sa = math.cos(angle), math.sin(angle)
        pts.append((cx + x * ca - y * sa, cy + x * sa + y * ca))
    return pts


def _poly(cx, cy, r, angle, n, phase):
    return [(cx + r * math.cos(angle + phase + 2 * math.pi * i / n), cy + r * math.sin(angle + phase + 2 * math.pi * i / n))
            for i in range(n)]


def object_mask(o, width, height):
    """Anti-aliased coverage in [0,1], shape [height, width]."""
    img = Image.new('L', (width * SS, height * SS), 0)
    d = ImageDraw.Draw(img)
    cx, cy, r, a = o['cx'] * SS, o['cy'] * SS, o['radius'] * SS, o['angle']
    s = o['shape']
    if s == 'circle':
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    elif s == 'ring':
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
        ri = r * 0.52
        d.ellipse([cx - ri, cy - ri, cx + ri, cy + ri], fill=0)
    elif s == 'square':
        d.polygon(_poly(cx, cy, r * 0.95, a, 4, math.pi / 4), fill=255)
    elif s == 'triangle':
        d.polygon(_poly(cx, cy + r * 0.15, r * 1.1, 0.0, 3, -math.pi / 2), fill=255)
    elif s == 'star':
        d.polygon(_star_points(cx, cy, r * 1.1, a * 0.5), fill=255)
    elif s == 'heart':
        d.polygon(_heart_points(cx, cy, r * 1.05, a * 0.5), fill=255)
    img = img.resize((width, height), Image.BOX)
    return np.asarray(img, dtype=np.float32) / 255.0


def render_background(bg, width, height):
    cols = [np.array(COLOURS[c], dtype=np.float32) for c in bg['colours']]
    if bg['kind'] == 'plain':
        return np.broadcast_to(cols[0], (height, width, 3)).copy()
    vertical = bg['direction'] == 'vertical'  # vertical: colours change from top to bottom
    n = height if vertical else width
    if bg['kind'] == 'split':
        t = (np.arange(n * SS) >= n * SS / 2).astype(np.float32).reshape(n, SS).mean(1)
    else:
        t = (np.arange(n) + 0.5) / n
    ramp = cols[0][None, :] * (1 - t[:, None]) + cols[1][None, :] * t[:, None]
    if vertical:
        return np.broadcast_to(ramp[:, None, :], (height, width, 3)).copy()
    return np.broadcast_to(ramp[None, :, :], (height, width, 3)).copy()


def render(scene):
    w, h = scene['width'], scene['height']
    img = render_background(scene['background'], w, h)
    for o in scene['objects']:
        m = object_mask(o, w, h)[..., None]
        img = img * (1 - m) + np.array(COLOURS[o['colour']], dtype=np.float32) * m
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- captions

def _obj_phrase(rng, o, plural_n=None, size_p=0.7):
    words = []
    if plural_n is None:
        words.append('a')
    else:
        words.append(NUMBERS[plural_n])
    if rng.random() < size_p:
        words.append(rng.choice(SIZE_WORDS[o['size']]))
    words.append(o['colour'])
    shape = rng.choice(SHAPE_SYNONYMS.get(o['shape'], [o['shape']]))
    words.append(shape + 's' if plural_n else shape)
    if words[0] == 'a' and words[1][0] in 'aeiou':
        words[0] = 'an'
    return ' '.join(words)


def background_phrase(rng, bg):
    c = bg['colours']
    if bg['kind'] == 'plain':
        return rng.choice([f'on {_an(c[0])} background', f'on a plain {c[0]} background'])
    if bg['kind'] == 'split':
        return f'on {_an(c[0])} and {c[1]} background'
    return rng.choice([f'on {_an(c[0])} to {c[1]} gradient', f'on a gradient from {c[0]} to {c[1]}'])


def _an(word):
    return ('an ' if word[0] in 'aeiou' else 'a ') + word


def caption(rng, scene):
    objs = scene['objects']
    bg = background_phrase(rng, scene['background']) if rng.random() < 0.7 else None
    if scene['counting']:
        main = _obj_phrase(rng, objs[0], plural_n=len(objs))
    elif len(objs) == 1:
        main = _obj_phrase(rng, objs[0])
        if rng.random() < 0.8:
            main += ' ' + rng.choice(POSITION_PHRASES[objs[0]['position']])
    elif len(objs) == 2:
        with_pos = rng.random() < 0.5
        parts = []
        for o in objs:
            p = _obj_phrase(rng, o, size_p=0.5)
            if with_pos:
                p += ' ' + rng.choice(POSITION_PHRASES[o['position']])
            parts.append(p)
        main = ' and '.join(parts)
    else:
        parts = [_obj_phrase(rng, o, size_p=0.3) for o in objs]
        main = ', '.join(parts[:-1]) + ' and ' + parts[-1]
    if bg is None:
        return main
    if rng.random() < 0.8:
        return main + ' ' + bg
    return bg + ', ' + main  # another word order


def ground_truth(scene):
    return dict(
        width=scene['width'], height=scene['height'], counting=scene['counting'],
        background=scene['background'],
        objects=[dict(colour=o['colour'], shape=o['shape'], size=o['size'], position=o['position'],
                      cx=round(o['cx'], 2), cy=round(o['cy'], 2), radius=round(o['radius'], 2))
                 for o in scene['objects']],
    )


if __name__ == '__main__':
    rng = random.Random(0)
    tiles = []
    for i in range(16):
        sc = sample_scene(rng)
        print(caption(rng, sc))
        tiles.append(render(sc))
    grid = np.concatenate([np.concatenate(tiles[r * 4:(r + 1) * 4], 1) for r in range(4)], 0)
    Image.fromarray(grid).resize((512, 512), Image.NEAREST).save('/tmp/world.png')
    print(len(WORDS), WORDS)
