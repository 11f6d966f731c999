/**
 * The values held by a TensorProto (an initializer, a Constant, a test-data `.pb` file) as a
 * HostTensor. External data is not resolved here: such tensors hold no bytes in the model.
 */
import { NeurotapError } from '../src/errors.js';
import { ONNX_DTYPE, type DType, type HostTensor, type TypedArray } from '../src/tensor.js';
import { decodeMessage } from '../src/onnx/codec.js';
import { Tensor } from '../src/onnx/schema.js';
import type { TensorProto } from '../src/onnx/types.js';
import { WireReader } from '../src/onnx/wire.js';

const ARRAYS: Partial<Record<DType, { new (n: number): TypedArray; BYTES_PER_ELEMENT: number }>> = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
};

/** Decodes a serialized TensorProto (e.g. the ONNX test corpus's input_0.pb). */
export function decodeTensorProto(bytes: Uint8Array): TensorProto {
  return decodeMessage(Tensor, new WireReader(bytes), bytes.length) as TensorProto;
}

export function tensorFromProto(t: TensorProto): HostTensor {
  const type = ONNX_DTYPE[t.dataType ?? 0];
  const dims = (t.dims ?? []).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  if (type === 'string') return { type, dims, data: (t.stringData ?? []).map((b) => new TextDecoder().decode(b)) };
  const Ctor = type ? ARRAYS[type] : undefined;
  if (!Ctor) {
    throw new NeurotapError(
      'E_BAD_FILE',
      `Tensor '${t.name ?? ''}' has element type ${t.dataType}, which neurotap cannot read.`,
      {
        hint: 'Supported: float16/32/64, bfloat16, (u)int8/16/32/64, bool, string.',
      },
    );
  }
  if (t.dataLocation === 1) {
    throw new NeurotapError('E_EXTERNAL_DATA_MISSING', `Tensor '${t.name ?? ''}' keeps its data in an external file.`, {
      hint: 'Load the model from its path so the .data file is found.',
    });
  }
  const out = new Ctor(count);
  if (t.rawData) {
    // Copy through bytes: the payload inside the protobuf is not aligned for its element type.
    new Uint8Array(out.buffer).set(t.rawData.subarray(0, count * Ctor.BYTES_PER_ELEMENT));
  } else {
    const source: ArrayLike<number | bigint> =
      t.floatData ?? t.doubleData ?? t.int64Data ?? t.uint64Data ?? t.int32Data ?? [];
    const big = out instanceof BigInt64Array || out instanceof BigUint64Array;
    for (let i = 0; i < count && i < source.length; i++)
      (out as unknown as (number | bigint)[])[i] = big ? BigInt(source[i]) : Number(source[i]);
  }
  return { type: type!, dims, data: out };
}
