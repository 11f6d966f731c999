/**
 * `.jsonl` of token ids (Node only): one item per line, either a bare array (`[101, 2023, 102]`,
 * for the model's first input) or an object whose arrays are named after inputs, with an
 * optional `id` (`{"id": "doc-7", "input_ids": [...]}`). A first pass records each line's byte
 * range and the longest sequence; batches then read only their lines. Every sequence is padded
 * (with `padId`, default 0) to the longest in the file so that all items share one shape, and an
 * `attention_mask` input the lines do not give is derived (1 for tokens, 0 for padding).
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { NeurotapError } from '../../errors.js';
import type { NeurotapModel } from '../../model.js';
import type { HostTensor } from '../../tensor.js';
import { inputDtype } from '../../dataset/fit.js';
import type { DataSource } from '../../dataset/types.js';

interface Line {
  arrays: Record<string, number[]>;
  id: string | undefined;
}

const MASK = 'attention_mask';

function badLine(path: string, line: number, message: string): NeurotapError {
  return new NeurotapError('E_BAD_FILE', `${path} line ${line + 1}: ${message}`, {
    hint: 'Each line is a JSON array of token ids, or an object such as {"id": "a", "input_ids": [1, 2, 3]}.',
  });
}

function parseLine(model: NeurotapModel, text: string, path: string, line: number): Line {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badLine(path, line, 'not valid JSON.');
  }
  const object = Array.isArray(value) ? { [model.inputNames[0]]: value } : value;
  if (typeof object !== 'object' || object === null)
    throw badLine(path, line, `expected an array or an object; got ${text.slice(0, 40)}.`);
  const record = object as Record<string, unknown>;
  // Null prototype and own properties only: inputs named constructor or __proto__ are plain keys.
  const arrays: Record<string, number[]> = Object.create(null);
  for (const input of model.inputNames) {
    if (!Object.hasOwn(record, input)) continue;
    const ids = record[input];
    if (!Array.isArray(ids) || !ids.every((x) => typeof x === 'number' && Number.isFinite(x)))
      throw badLine(path, line, `'${input}' must be an array of numbers.`);
    const bad = ids.find((x) => !fitsInput(model, input, x));
    if (bad !== undefined)
      throw badLine(
        path,
        line,
        `'${input}' holds ${bad}; its ${inputDtype(model, input) ?? 'int64'} input takes ${rangeOf(model, input)}.`,
      );
    arrays[input] = ids as number[];
  }
  const missing = model.inputNames.filter((n) => !(n in arrays) && n !== MASK);
  if (missing.length) throw badLine(path, line, `no array for input ${missing.map((n) => `'${n}'`).join(', ')}.`);
  const own = Object.hasOwn(record, 'id') ? record.id : undefined;
  const id = typeof own === 'string' || typeof own === 'number' ? String(own) : undefined;
  return { arrays, id };
}

/** A file-system error reading the .jsonl, typed (a parse error is already a NeurotapError). */
function readError(path: string, cause: unknown): unknown {
  const code = (cause as NodeJS.ErrnoException)?.code;
  if (cause instanceof NeurotapError || !code) return cause;
  if (code === 'ENOENT')
    return new NeurotapError('E_FILE_NOT_FOUND', `Expected a .jsonl file at ${path}; no such file.`, {
      hint: 'Check the path.',
      cause,
    });
  return new NeurotapError('E_BAD_FILE', `Expected a readable .jsonl file at ${path}; could not read it (${code}).`, {
    hint: code === 'EISDIR' ? 'Give the path of a file, not a directory.' : 'Check the file and its permissions.',
    cause,
  });
}

/** Integer inputs take integers of their range (1.5 and 1e300 are not token ids); float32 any finite number. */
const INTEGER_RANGE: Record<string, [number, number]> = {
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  int32: [-(2 ** 31), 2 ** 31 - 1],
};

function fitsInput(model: NeurotapModel, input: string, x: number): boolean {
  const range = INTEGER_RANGE[inputDtype(model, input) ?? 'int64'];
  return !range || (Number.isInteger(x) && x >= range[0] && x <= range[1]);
}

function rangeOf(model: NeurotapModel, input: string): string {
  const [lo, hi] = INTEGER_RANGE[inputDtype(model, input) ?? 'int64'];
  return `integers from ${lo} to ${hi}`;
}

/** Byte range of every non-blank line, found without holding the file in memory. */
async function indexLines(
  path: string,
  onLine: (bytes: Uint8Array, index: number) => void,
): Promise<[number, number][]> {
  const ranges: [number, number][] = [];
  let carry: Uint8Array = new Uint8Array(0);
  let offset = 0; // file offset of carry[0]
  const take = (bytes: Uint8Array, start: number) => {
    const text = bytes.length && bytes[bytes.length - 1] === 0x0d ? bytes.subarray(0, -1) : bytes;
    if (text.some((b) => b !== 0x20 && b !== 0x09)) {
      onLine(text, ranges.length);
      ranges.push([start, start + bytes.length]);
    }
  };
  for await (const piece of createReadStream(path)) {
    const data = carry.length ? Buffer.concat([carry, piece as Buffer]) : (piece as Buffer);
    let from = 0;
    for (let nl = data.indexOf(0x0a); nl >= 0; nl = data.indexOf(0x0a, from)) {
      take(data.subarray(from, nl), offset + from);
      from = nl + 1;
    }
    carry = new Uint8Array(data.subarray(from));
    offset += from;
  }
  if (carry.length) take(carry, offset);
  return ranges;
}

/** A zeroed tensor buffer of the input's dtype and a setter that converts numbers to it. */
function bufferFor(model: NeurotapModel, input: string, size: number) {
  const dtype = inputDtype(model, input) ?? 'int64';
  if (dtype === 'int64') {
    const data = new BigInt64Array(size);
    return {
      type: dtype,
      data,
      set: (i: number, v: number) => {
        data[i] = BigInt(Math.trunc(v));
      },
    };
  }
  if (dtype === 'int32' || dtype === 'float32') {
    const data = dtype === 'int32' ? new Int32Array(size) : new Float32Array(size);
    return {
      type: dtype,
      data,
      set: (i: number, v: number) => {
        data[i] = v;
      },
    };
  }
  throw new NeurotapError(
    'E_INPUT_DTYPE',
    `Input '${input}' is ${dtype}; .jsonl items feed int64, int32 or float32 inputs.`,
    { hint: 'Give this model its inputs as .npy or .npz arrays.' },
  );
}

/** Lines padded to the longest sequence per input, stacked into [n, length] tensors. */
function stackLines(
  model: NeurotapModel,
  lines: Line[],
  lengths: Record<string, number>,
  padId: number,
): Record<string, HostTensor> {
  const tokensInput = model.inputNames.find((n) => n !== MASK) ?? model.inputNames[0];
  const feeds: Record<string, HostTensor> = {};
  for (const input of model.inputNames) {
    const length = input === MASK ? Math.max(lengths[MASK] ?? 0, lengths[tokensInput] ?? 0) : lengths[input];
    const out = bufferFor(model, input, lines.length * length);
    lines.forEach((line, row) => {
      const given = line.arrays[input];
      // A mask the line leaves out marks its tokens: 1 for each, 0 for the padding after them.
      const values = given ?? line.arrays[tokensInput].map(() => 1);
      for (let j = 0; j < length; j++)
        out.set(row * length + j, j < values.length ? values[j] : input === MASK ? 0 : padId);
    });
    feeds[input] = { type: out.type, dims: [lines.length, length], data: out.data };
  }
  return feeds;
}

export async function jsonlSource(model: NeurotapModel, path: string, padId = 0): Promise<DataSource> {
  const lengths: Record<string, number> = Object.create(null);
  const ids: (string | undefined)[] = [];
  const decoder = new TextDecoder();
  const ranges = await indexLines(path, (bytes, index) => {
    const line = parseLine(model, decoder.decode(bytes), path, index);
    for (const [input, values] of Object.entries(line.arrays))
      lengths[input] = Math.max(lengths[input] ?? 0, values.length);
    ids.push(line.id);
  }).catch((cause) => {
    throw readError(path, cause);
  });
  if (ranges.length === 0)
    throw new NeurotapError('E_BAD_ARGUMENT', `Found no items in ${path}.`, {
      hint: 'Write one JSON array of token ids per line.',
    });
  const handle = await open(path, 'r');
  let closed = false;
  return {
    count: ranges.length,
    id: (i) => ids[i] ?? String(i),
    async read(start, end) {
      const lines: Line[] = [];
      for (let i = start; i < end; i++) {
        const [from, to] = ranges[i];
        const bytes = new Uint8Array(to - from);
        await handle.read(bytes, 0, bytes.length, from);
        lines.push(parseLine(model, decoder.decode(bytes), path, i));
      }
      return stackLines(model, lines, lengths, padId);
    },
    describe: () => ({ kind: 'jsonl', path, count: ranges.length, padId, lengths }),
    files: () => [path],
    async close() {
      if (!closed) {
        closed = true;
        await handle.close();
      }
    },
  };
}
