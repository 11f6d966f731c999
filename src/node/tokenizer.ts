/**
 * A Hugging Face tokenizer.json from disk: the one named, or the one beside the model (where
 * `save_pretrained` and transformers.js' model folders keep it), for token strings in the lens.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseTokenizer, type TokenVocab } from '../lens/tokenizer.js';
import { readFileBytes } from './files.js';

/** Reads and parses a tokenizer.json (E_FILE_NOT_FOUND, E_BAD_FILE). */
export async function loadTokenizer(path: string): Promise<TokenVocab> {
  const bytes = await readFileBytes(path, 'a tokenizer.json');
  return parseTokenizer(new TextDecoder().decode(bytes), path);
}

/** The tokenizer.json beside a model file (or one folder up, from an onnx/ subfolder, as transformers.js lays models out); undefined if none. */
export function tokenizerBeside(modelPath: string): string | undefined {
  const folder = dirname(modelPath);
  return [join(folder, 'tokenizer.json'), join(folder, '..', 'tokenizer.json')].find((p) => existsSync(p));
}
