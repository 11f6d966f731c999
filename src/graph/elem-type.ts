/**
 * The element type (ONNX TensorProto.DataType) of any value, from declared types or, where the
 * export declared none, from how the op producing it sets its output type. Needed to give a value
 * threaded out of an If branch a type-correct empty stand-in in the other branch.
 */
import { DataType, type AttributeProto, type NodeProto } from '../onnx/types.js';
import { declaredElemType, type GraphIndex } from './graph-index.js';

const { INT64, BOOL, FLOAT, UINT8 } = DataType;

const BOOL_OPS = new Set([
  'Equal',
  'Less',
  'LessOrEqual',
  'Greater',
  'GreaterOrEqual',
  'Not',
  'And',
  'Or',
  'Xor',
  'IsNaN',
  'IsInf',
]);
const INT64_OPS = new Set(['Shape', 'Size', 'ArgMax', 'ArgMin', 'NonZero', 'NonMaxSuppression']);

function attr(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}

export function inferElemType(index: GraphIndex, value: string, seen = new Set<string>()): number | undefined {
  const declared = declaredElemType(index.types.get(value));
  if (declared) return declared;
  const init = index.graph.initializer?.find((t) => t.name === value);
  if (init?.dataType) return init.dataType;
  const p = index.producer.get(value);
  if (p === undefined || seen.has(value)) return undefined;
  seen.add(value);
  const node = index.nodes[p];
  const outIndex = (node.output ?? []).indexOf(value);
  return fromOp(index, node, outIndex, seen);
}

function fromOp(index: GraphIndex, node: NodeProto, outIndex: number, seen: Set<string>): number | undefined {
  const op = node.opType ?? '';
  const input = (i: number) => (node.input?.[i] ? inferElemType(index, node.input[i], seen) : undefined);
  if (BOOL_OPS.has(op)) return BOOL;
  if (INT64_OPS.has(op)) return INT64;
  switch (op) {
    case 'Cast':
      return Number(attr(node, 'to')?.i);
    case 'CastLike':
      return input(1);
    case 'Where': // input 0 is the bool condition
      return input(1) ?? input(2);
    case 'Constant':
      return attr(node, 'value')?.t?.dataType ?? (attr(node, 'value_int') || attr(node, 'value_ints') ? INT64 : FLOAT);
    case 'ConstantOfShape':
      return attr(node, 'value')?.t?.dataType ?? FLOAT;
    case 'EyeLike':
    case 'RandomNormalLike':
    case 'RandomUniformLike':
      return Number(attr(node, 'dtype')?.i ?? 0) || input(0);
    case 'RandomNormal':
    case 'RandomUniform':
      return Number(attr(node, 'dtype')?.i ?? FLOAT);
    case 'TopK':
      return outIndex === 1 ? INT64 : input(0);
    case 'MaxPool':
      return outIndex === 1 ? INT64 : input(0);
    case 'Unique':
      return outIndex === 0 ? input(0) : INT64;
    case 'QuantizeLinear':
      return input(2) ?? UINT8;
    case 'DynamicQuantizeLinear':
      return outIndex === 1 ? FLOAT : UINT8;
    case 'DequantizeLinear':
      return input(1) ?? FLOAT;
    case 'MatMulInteger':
    case 'ConvInteger':
      return 6;
    case 'If':
    case 'Loop':
    case 'Scan':
      return subgraphOutputType(index, node, outIndex, seen);
    default:
      return firstInputType(index, node, seen);
  }
}

function firstInputType(index: GraphIndex, node: NodeProto, seen: Set<string>): number | undefined {
  for (const name of node.input ?? []) {
    if (!name) continue;
    const t = inferElemType(index, name, seen);
    if (t) return t;
  }
  return undefined;
}

/** If: the then-branch's output; Loop: the body output after the condition; Scan: the body output. */
function subgraphOutputType(
  index: GraphIndex,
  node: NodeProto,
  outIndex: number,
  seen: Set<string>,
): number | undefined {
  const op = node.opType;
  const g = attr(node, op === 'If' ? 'then_branch' : 'body')?.g;
  const out = g?.output?.[op === 'Loop' ? outIndex + 1 : outIndex];
  return out?.name ? inferElemType(index, out.name, seen) : undefined;
}

const SEQUENCE_OPS = new Set([
  'SequenceConstruct',
  'SequenceEmpty',
  'SequenceInsert',
  'SequenceErase',
  'SplitToSequence',
  'SequenceMap',
]);
const OPTIONAL_OPS = new Set(['Optional']);
const PASS_THROUGH = new Set(['Identity']);

/**
 * What kind of value this is: ONNX Runtime's JS API returns tensors only, so sequences, maps and
 * optionals cannot be captured.
 */
export function valueKind(
  index: GraphIndex,
  value: string,
  seen = new Set<string>(),
): 'tensor' | 'sequence' | 'map' | 'optional' {
  const type = index.types.get(value);
  if (type) return type.sequenceType ? 'sequence' : type.mapType ? 'map' : type.optionalType ? 'optional' : 'tensor';
  const p = index.producer.get(value);
  if (p === undefined || seen.has(value)) return 'tensor';
  seen.add(value);
  const node = index.nodes[p];
  const op = node.opType ?? '';
  if (SEQUENCE_OPS.has(op)) return 'sequence';
  if (OPTIONAL_OPS.has(op)) return 'optional';
  if (PASS_THROUGH.has(op)) return valueKind(index, node.input?.[0] ?? '', seen);
  if (op === 'If' || op === 'Loop' || op === 'Scan') {
    const g = attr(node, op === 'If' ? 'then_branch' : 'body')?.g;
    const i = (node.output ?? []).indexOf(value);
    const inner = g?.output?.[op === 'Loop' ? i + 1 : i];
    if (inner?.type) return inner.type.sequenceType ? 'sequence' : inner.type.optionalType ? 'optional' : 'tensor';
    return inner?.name ? valueKind(index, inner.name, seen) : 'tensor';
  }
  return 'tensor';
}

/**
 * Element types ONNX Runtime's JS API returns as tensors. The others (bfloat16 and float8 raise
 * "Unsupported data type"; int4/uint4 abort the Node binding 1.30 outright, measured) must never be
 * fetched.
 */
const RETURNABLE = new Set<number>([
  DataType.FLOAT,
  DataType.UINT8,
  DataType.INT8,
  DataType.UINT16,
  DataType.INT16,
  DataType.INT32,
  DataType.INT64,
  DataType.STRING,
  DataType.BOOL,
  DataType.FLOAT16,
  DataType.DOUBLE,
  DataType.UINT32,
  DataType.UINT64,
]);

/** ONNX names of the element types the JS API cannot return (TensorProto.DataType). */
const UNRETURNABLE_NAMES: Record<number, string> = {
  [DataType.BFLOAT16]: 'bfloat16',
  [DataType.FLOAT8E4M3FN]: 'float8e4m3fn',
  [DataType.FLOAT8E4M3FNUZ]: 'float8e4m3fnuz',
  [DataType.FLOAT8E5M2]: 'float8e5m2',
  [DataType.FLOAT8E5M2FNUZ]: 'float8e5m2fnuz',
  [DataType.UINT4]: 'uint4',
  [DataType.INT4]: 'int4',
  [DataType.FLOAT4E2M1]: 'float4e2m1',
  [DataType.FLOAT8E8M0]: 'float8e8m0',
  [DataType.UINT2]: 'uint2',
  [DataType.INT2]: 'int2',
};

/** The dtype name when ONNX Runtime's JS API cannot return a tensor of this element type, else undefined. */
export function unreturnableType(elemType: number | undefined): string | undefined {
  if (elemType === undefined || elemType === DataType.UNDEFINED || RETURNABLE.has(elemType)) return undefined;
  return UNRETURNABLE_NAMES[elemType] ?? `element type ${elemType}`;
}
