/**
 * Token strings from a Hugging Face `tokenizer.json` (the `tokenizers` library's file, which
 * transformers.js reads too): the vocabulary and the decoder, enough to show what one token id
 * stands for. Byte-level BPE (GPT-2's `Ġ` for a space), WordPiece (`##ing`), SentencePiece's
 * Metaspace (`▁`) and byte fallback (`<0x0A>`) are decoded; encoding text is not needed here.
 *
 * ```ts
 * const vocab = parseTokenizer(await readFile('tokenizer.json', 'utf8'));
 * vocab.token(464); // ' The'
 * ```
 */
import { NeurotapError } from '../errors.js';

export interface TokenVocab {
  /** How many ids have a string. */
  readonly size: number;
  /** The text a token id stands for (byte markers decoded); undefined for an id the file does not name. */
  token(id: number): string | undefined;
}

interface TokenizerFile {
  readonly model?: { readonly type?: string; readonly vocab?: unknown };
  readonly added_tokens?: readonly { readonly id?: number; readonly content?: string }[];
  readonly decoder?: Decoder | null;
}

interface Decoder {
  readonly type?: string;
  readonly decoders?: readonly Decoder[];
  readonly prefix?: string;
  readonly replacement?: string;
  readonly pattern?: { readonly String?: string };
  readonly content?: string;
}

/** Parses the text of a tokenizer.json; a file that is not one is E_BAD_FILE. */
export function parseTokenizer(text: string, name = 'tokenizer.json'): TokenVocab {
  let file: TokenizerFile;
  try {
    file = JSON.parse(text) as TokenizerFile;
  } catch (cause) {
    throw badFile(name, 'it is not JSON', cause);
  }
  const pieces = vocabPieces(file, name);
  for (const t of file.added_tokens ?? [])
    if (Number.isSafeInteger(t.id) && typeof t.content === 'string') pieces.set(t.id!, t.content);
  const special = new Set((file.added_tokens ?? []).map((t) => t.id));
  const decode = pieceDecoder(file.decoder ?? undefined);
  return {
    size: pieces.size,
    token: (id) => {
      const piece = pieces.get(id);
      if (piece === undefined) return undefined;
      return special.has(id) ? piece : decode(piece);
    },
  };
}

/** id → piece from `model.vocab`: an object for BPE and WordPiece, a [piece, score] list for Unigram. */
function vocabPieces(file: TokenizerFile, name: string): Map<number, string> {
  const vocab = file.model?.vocab;
  const pieces = new Map<number, string>();
  if (Array.isArray(vocab)) {
    vocab.forEach((entry, id) => {
      if (Array.isArray(entry) && typeof entry[0] === 'string') pieces.set(id, entry[0]);
    });
  } else if (vocab && typeof vocab === 'object') {
    for (const [piece, id] of Object.entries(vocab)) if (Number.isSafeInteger(id)) pieces.set(id as number, piece);
  } else {
    throw badFile(name, 'it has no model.vocab (a Hugging Face tokenizers file has one)');
  }
  return pieces;
}

function badFile(name: string, why: string, cause?: unknown): NeurotapError {
  return new NeurotapError('E_BAD_FILE', `Cannot read ${name} as a Hugging Face tokenizer: ${why}.`, {
    hint: 'Pass the tokenizer.json saved by tokenizer.save_pretrained() (the tokenizers library format), or leave it out to see token ids only.',
    cause,
  });
}

/** One piece to text, as the file's decoder turns it into text (per token, so no cleanup of spaces). */
function pieceDecoder(decoder: Decoder | undefined): (piece: string) => string {
  const steps = flatten(decoder);
  return (piece) => {
    let text = piece;
    for (const step of steps) text = step(text);
    return text;
  };
}

function flatten(decoder: Decoder | undefined): ((text: string) => string)[] {
  if (!decoder) return [];
  switch (decoder.type) {
    case 'Sequence':
      return (decoder.decoders ?? []).flatMap(flatten);
    case 'ByteLevel':
      return [byteLevelText];
    case 'ByteFallback':
      return [byteFallback];
    case 'WordPiece':
      return [];
    case 'Metaspace':
      return [(t) => t.split(decoder.replacement ?? '▁').join(' ')];
    case 'Replace': {
      const from = decoder.pattern?.String;
      return from === undefined ? [] : [(t) => t.split(from).join(decoder.content ?? '')];
    }
    default:
      // Strip, Fuse, CTC…: they act on whole sequences; a single piece reads best as it is.
      return [];
  }
}

/** GPT-2's bytes_to_unicode, inverted: printable bytes stand for themselves, the others for 256 + n. */
const BYTE_OF: ReadonlyMap<string, number> = (() => {
  const map = new Map<string, number>();
  const direct = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let next = 256;
  for (let b = 0; b < 256; b++) map.set(String.fromCodePoint(direct(b) ? b : next++), b);
  return map;
})();

const UTF8 = new TextDecoder('utf-8', { fatal: false });

/** A byte-level piece to text; a piece that is part of a multi-byte character shows U+FFFD for it. */
function byteLevelText(piece: string): string {
  const bytes: number[] = [];
  for (const ch of piece) {
    const b = BYTE_OF.get(ch);
    if (b === undefined) return piece; // not byte-level after all (an added token): leave it
    bytes.push(b);
  }
  return UTF8.decode(Uint8Array.from(bytes));
}

/** SentencePiece's byte fallback pieces `<0x0A>` to the character. */
function byteFallback(piece: string): string {
  const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
  return m ? UTF8.decode(Uint8Array.of(Number.parseInt(m[1], 16))) : piece;
}
