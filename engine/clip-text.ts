// Text before BPE: transformers' cleaning fallback (ftfy absent) and CLIP's pre-tokenising pattern.

const CLIP_PATTERN =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

/** The words BPE sees: cleaned, lowercased text split by CLIP's pattern. */
export function clipWords(text: string): string[] {
  return cleanText(text).match(CLIP_PATTERN) ?? [];
}

// transformers' BasicTokenizer(strip_accents=False, do_split_on_punc=False): drop control characters, space out CJK
// ideographs, NFC, collapse whitespace, lowercase each word.
function cleanText(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) as number;
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ZS.test(ch)) out += ' ';
    else if (cp === 0 || cp === 0xfffd || CONTROL.test(ch)) continue;
    else if (isCjkIdeograph(cp)) out += ` ${ch} `;
    else out += ch;
  }
  return out
    .normalize('NFC')
    .split(/\s+/u)
    .filter((w) => w.length > 0)
    .map((w) => w.toLowerCase())
    .join(' ');
}

const ZS = /^\p{Zs}$/u;
const CONTROL = /^\p{C}$/u;

function isCjkIdeograph(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}
