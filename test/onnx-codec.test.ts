/** The ONNX reader/writer: byte-exact round trips, zero-copy weights, unknown fields kept, clean errors. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isNeurotapError } from '../src/errors.js';
import { decodeModel, encodeModel } from '../src/onnx/codec.js';
import type { ModelProto } from '../src/onnx/types.js';
import { FIXTURES, REAL_MODELS } from './helpers/fixtures.js';

const read = (path: string) => new Uint8Array(readFileSync(path));
const models = [
  join(FIXTURES, 'resnet18', 'model.onnx'),
  join(FIXTURES, 'rnn', 'model.onnx'),
  join(FIXTURES, 'transformer', 'model.onnx'),
  ...['smollm-2layer-dynamo.onnx', 'conv2d-pad-dynamo.onnx', 'mcunet-2species.onnx', 'mnist-mlp-dynamic-int8.onnx'].map(
    (f) => join(REAL_MODELS, f),
  ),
];

describe('ONNX codec', () => {
  for (const path of models) {
    it(`re-encodes ${path.split('/').slice(-2).join('/')} byte for byte`, () => {
      const bytes = read(path);
      const out = encodeModel(decodeModel(bytes));
      assert.equal(out.length, bytes.length);
      assert.ok(Buffer.from(out).equals(Buffer.from(bytes)));
    });
  }

  it('keeps initializer payloads as views into the input buffer', () => {
    const bytes = read(join(FIXTURES, 'resnet18', 'model.onnx'));
    const model = decodeModel(bytes);
    const weight = model.graph!.initializer!.find((t) => t.name === 'fc.weight')!;
    assert.deepEqual(weight.dims, [1000, 512]);
    assert.equal(weight.rawData!.buffer, bytes.buffer);
    assert.equal(weight.rawData!.byteLength, 1000 * 512 * 4);
  });

  it('reads the dynamo exporter metadata and external-data references', () => {
    const model = decodeModel(read(join(REAL_MODELS, 'smollm-2layer-dynamo.onnx')));
    const q = model.graph!.initializer!.find((t) => t.name === 'model.layers.0.self_attn.q_proj.weight')!;
    assert.equal(q.dataLocation, 1);
    assert.deepEqual(
      q.externalData!.map((e) => e.key),
      ['location', 'offset', 'length'],
    );
    const gather = model.graph!.node!.find((n) => n.name === 'node_Gather_20')!;
    const scopes = gather.metadataProps!.find((p) => p.key === 'pkg.torch.onnx.name_scopes')!.value;
    assert.equal(scopes, "['', 'model', 'model.embed_tokens', 'embedding']");
  });

  it('round-trips subgraphs, functions, int64 extremes and fields it does not know', () => {
    const unknownField = new Uint8Array([0xf8, 0x07, 0x2a]); // field 127, varint 42
    const model: ModelProto = {
      irVersion: 9,
      opsetImport: [{ domain: '', version: 18 }],
      graph: {
        name: 'g',
        node: [
          {
            opType: 'If',
            input: ['c'],
            output: ['y'],
            name: 'if',
            attribute: [
              {
                name: 'then_branch',
                type: 5,
                g: {
                  name: 'then',
                  node: [{ opType: 'Identity', input: ['a'], output: ['t'] }],
                  output: [{ name: 't' }],
                },
              },
              { name: 'big', type: 7, ints: [9223372036854775807n, -1, 0, 2 ** 40] },
            ],
            metadataProps: [{ key: 'k', value: 'v' }],
          },
        ],
        initializer: [{ name: 'w', dims: [2], dataType: 7, int64Data: [-5, 7] }],
        $unknown: [unknownField],
      },
      functions: [
        {
          name: 'f',
          domain: 'custom',
          input: ['x'],
          output: ['y'],
          node: [{ opType: 'Relu', input: ['x'], output: ['y'] }],
        },
      ],
    };
    const bytes = encodeModel(model);
    const back = decodeModel(bytes);
    assert.deepEqual(back.graph!.node![0].attribute![1].ints, [9223372036854775807n, -1, 0, 2 ** 40]);
    assert.equal(back.graph!.node![0].attribute![0].g!.node![0].opType, 'Identity');
    assert.deepEqual(back.graph!.initializer![0].int64Data, [-5, 7]);
    assert.deepEqual([...back.graph!.$unknown![0]], [...unknownField]);
    assert.equal(back.functions![0].node![0].opType, 'Relu');
    assert.deepEqual(back.graph!.node![0].metadataProps, [{ key: 'k', value: 'v' }]);
    assert.ok(Buffer.from(encodeModel(back)).equals(Buffer.from(bytes)));
  });

  it('rejects absurdly deep nesting with a typed error, not a stack overflow', () => {
    // ModelProto.graph.input.type, then TypeProto.sequence_type.elem_type... 200 times (400 message levels,
    // past the decoder's limit of 256). Built from the inside out in one pass: each level's length is known.
    const lengthBytes = (n: number) => {
      const out: number[] = [];
      for (; n >= 128; n >>>= 7) out.push((n & 0x7f) | 0x80);
      return [...out, n];
    };
    const chunks: number[][] = []; // outermost first after reversal
    let inner = 0;
    const wrap = (field: number) => {
      const head = [field * 8 + 2, ...lengthBytes(inner)];
      chunks.push(head);
      inner += head.length;
    };
    for (let i = 0; i < 200; i++) {
      wrap(1); // TypeProto.Sequence.elem_type
      wrap(4); // TypeProto.sequence_type
    }
    for (const field of [2, 11, 7]) wrap(field); // ValueInfoProto.type, GraphProto.input, ModelProto.graph
    const bytes = new Uint8Array(chunks.reverse().flat());
    assert.equal(bytes.length, inner);
    assert.throws(
      () => decodeModel(bytes),
      (err) => isNeurotapError(err, 'E_NOT_ONNX') && /nest deeper than 256 levels/.test((err as Error).message),
    );
  });

  it('rejects truncated data with E_TRUNCATED instead of crashing', () => {
    const bytes = read(join(FIXTURES, 'seed-mlp', 'model.onnx'));
    assert.throws(
      () => decodeModel(bytes.subarray(0, bytes.length - 7)),
      (err) => isNeurotapError(err, 'E_TRUNCATED'),
    );
  });
});
