"""A CLIP-format BPE tokenizer for the shapes world.

The files (vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json) have the exact layout of
openai/clip-vit-large-patch14's, so HF CLIPTokenizer and the engine's TS ClipTokenizer load them unchanged:
256 byte tokens, the same with `</w>`, one token per merge, then <|startoftext|> and <|endoftext|>.
Merges are learned by plain BPE on the world's words until each word is a single token; the encoder below is
CLIP's algorithm, so training and inference tokenize identically.
"""
import json
import os
import re

BOS, EOS = '<|startoftext|>', '<|endoftext|>'
MAX_LENGTH = 32


def bytes_to_unicode():
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def learn_merges(words):
    """Plain BPE on the word list (each word once) until every word is one symbol."""
    seqs = [list(w[:-1]) + [w[-1] + '</w>'] for w in sorted(set(words))]
    merges = []
    while True:
        counts = {}
        for s in seqs:
            for p in zip(s, s[1:]):
                counts[p] = counts.get(p, 0) + 1
        if not counts:
            return merges
        best = min(counts, key=lambda p: (-counts[p], p))  # most frequent, ties by name: deterministic
        merges.append(best)
        joined = best[0] + best[1]
        for k, s in enumerate(seqs):
            out, i = [], 0
            while i < len(s):
                if i < len(s) - 1 and (s[i], s[i + 1]) == best:
                    out.append(joined)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[k] = out


def build_vocab(merges):
    base = list(bytes_to_unicode().values())
    vocab = base + [v + '</w>' for v in base] + [a + b for a, b in merges] + [BOS, EOS]
    return {tok: i for i, tok in enumerate(vocab)}


def save(out_dir, words, max_length=MAX_LENGTH):
    os.makedirs(out_dir, exist_ok=True)
    merges = learn_merges(words)
    vocab = build_vocab(merges)
    with open(os.path.join(out_dir, 'vocab.json'), 'w', encoding='utf-8') as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(out_dir, 'merges.txt'), 'w', encoding='utf-8') as f:
        f.write('#version: 0.2\n' + ''.join(f'{a} {b}\n' for a, b in merges))
    special = {
        'bos_token': {'content': BOS, 'lstrip': False, 'normalized': True, 'rstrip': False, 'single_word': False},
        'eos_token': {'content': EOS, 'lstrip': False, 'normalized': True, 'rstrip': False, 'single_word': False},
        'unk_token': {'content': EOS, 'lstrip': False, 'normalized': True, 'rstrip': False, 'single_word': False},
        'pad_token': EOS,
    }
    cfg = dict(special, add_prefix_space=False, clean_up_tokenization_spaces=True, do_lower_case=True,
               errors='replace', model_max_length=max_length, tokenizer_class='CLIPTokenizer')
    with open(os.path.join(out_dir, 'tokenizer_config.json'), 'w') as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(out_dir, 'special_tokens_map.json'), 'w') as f:
        json.dump(special, f, indent=2)


class ClipTokenizer:
    PAT = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+|_+", re.IGNORECASE)

    def __init__(self, folder):
        with open(os.path.join(folder, 'vocab.json'), encoding='utf-8') as f:
            self.encoder = json.load(f)
        with open(os.path.join(folder, 'merges.txt'), encoding='utf-8') as f:
            lines = f.read().strip().split('\n')[1:]
        self.ranks = {tuple(l.split()): i for i, l in enumerate(lines)}
        with open(os.path.join(folder, 'tokenizer_config.json')) as f:
            self.max_length = json.load(f)['model_max_length']
        self.byte_encoder = bytes_to_unicode()
        self.bos, self.eos = self.encoder[BOS], self.encoder[EOS]
        self.cache = {}

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + '</w>',)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            best = min(pairs, key=lambda p: self.ranks.get(p, float('inf')))
            if best not in self.ranks:
                break
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = tuple(out)
        self.cache[token] = word
        return word

    def tokenize(self, text):
        text = ' '.join(text.split()).lower()
        ids = []
        for tok in self.PAT.findall(text):
            if tok in (BOS, EOS):  # added tokens, as HF matches them before BPE
                ids.append(self.encoder[tok])
                continue
            tok = ''.join(self.byte_encoder[b] for b in tok.encode('utf-8'))
            ids.extend(self.encoder[t] for t in self.bpe(tok))
        return ids

    def __call__(self, text):
        """Ids padded with <|endoftext|> to max_length, truncated keeping the final EOS (as HF does)."""
        ids = self.tokenize(text)[: self.max_length - 2]
        ids = [self.bos] + ids + [self.eos]
        return ids + [self.eos] * (self.max_length - len(ids))


if __name__ == '__main__':
    import sys
    import tempfile
    sys.path.insert(0, os.path.dirname(__file__))
    import world
    d = tempfile.mkdtemp()
    save(d, world.WORDS)
    t = ClipTokenizer(d)
    for w in world.WORDS:
        assert len(t.tokenize(w)) == 1, w
    print(len(t.encoder), t('a big red circle, on a blue background'))
