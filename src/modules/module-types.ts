/**
 * A readable module type when the export does not record class names (TorchScript exports):
 * inferred from the ONNX ops of a leaf module, e.g. a lone Gemm is a Linear.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import { DataType } from '../onnx/types.js';
import type { ModuleInfo } from './module-map.js';

/** A recurrent layer's ONNX op names it, whatever plumbing sits around it (Silero's Size+Equal+Not+If+LSTM). */
const RECURRENT = ['LSTM', 'GRU', 'RNN'];

/** Ops whose weight (input 1) may come out of a DequantizeLinear: a QDQ-quantized layer. */
const WEIGHTED = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

const SINGLE_OP_TYPES: Record<string, string> = {
  Gemm: 'Linear',
  Relu: 'ReLU',
  LeakyRelu: 'LeakyReLU',
  Sigmoid: 'Sigmoid',
  Tanh: 'Tanh',
  Softmax: 'Softmax',
  LogSoftmax: 'LogSoftmax',
  Flatten: 'Flatten',
  LSTM: 'LSTM',
  GRU: 'GRU',
  RNN: 'RNN',
  Elu: 'ELU',
  Selu: 'SELU',
  HardSigmoid: 'Hardsigmoid',
  HardSwish: 'Hardswish',
  Gelu: 'GELU',
  Dropout: 'Dropout',
  Identity: 'Identity',
  LayerNormalization: 'LayerNorm',
  GlobalAveragePool: 'AdaptiveAvgPool',
  InstanceNormalization: 'InstanceNorm',
  // ONNX Runtime's fused (com.microsoft) ops: the module they replace.
  SkipLayerNormalization: 'LayerNorm',
  SimplifiedLayerNormalization: 'RMSNorm',
  SkipSimplifiedLayerNormalization: 'RMSNorm',
  RMSNormalization: 'RMSNorm',
  FastGelu: 'GELU',
  BiasGelu: 'GELU',
  QuickGelu: 'QuickGELU',
  Attention: 'Attention',
  MultiHeadAttention: 'Attention',
  GroupQueryAttention: 'Attention',
  DynamicQuantizeMatMul: 'Linear (int8)',
  MatMulIntegerToFloat: 'Linear (int8)',
};

const SPATIAL_OPS: Record<string, string> = {
  Conv: 'Conv',
  ConvTranspose: 'ConvTranspose',
  MaxPool: 'MaxPool',
  AveragePool: 'AvgPool',
  BatchNormalization: 'BatchNorm',
};

/** The ops that say what a module is, ignoring the shape plumbing around them. */
const PLUMBING = new Set([
  'Constant',
  'Shape',
  'Gather',
  'Unsqueeze',
  'Squeeze',
  'Concat',
  'Transpose',
  'Reshape',
  'ConstantOfShape',
  'Cast',
  'Slice',
  'Identity',
  // A QDQ-quantized Conv is still a Conv2d: the pairs around it only say how its tensors are stored.
  'QuantizeLinear',
  'DequantizeLinear',
]);

export function inferModuleType(info: ModuleInfo, index: GraphIndex): string {
  if (info.children.length > 0) {
    const numbered = info.children.every((c) => /\.\d+$/.test(c) || /^\d+$/.test(c));
    return numbered ? 'Sequential' : 'Module';
  }
  const ops = info.ops.filter((op) => !PLUMBING.has(op));
  const core = ops.length > 0 ? ops : info.ops;
  const recurrent = RECURRENT.filter((op) => core.includes(op));
  if (recurrent.length === 1) return recurrent[0];
  if (ops.length === 0 && readsTable(info, index)) return 'Embedding';
  if (core.length === 1) {
    const op = core[0];
    if (op === 'MatMulNBits') return `Linear (q${nBits(info, index)})`;
    const quantized = WEIGHTED.has(op) ? quantizedWeight(info, index, op) : '';
    if (SINGLE_OP_TYPES[op]) return SINGLE_OP_TYPES[op] + quantized;
    if (SPATIAL_OPS[op]) return SPATIAL_OPS[op] + spatialSuffix(info, index, op) + quantized;
    if (op === 'MatMul' && quantized) return `Linear${quantized}`;
  }
  const quantizer = quantizerType(info.ops);
  if (ops.length === 0 && quantizer) return quantizer;
  const set = new Set(core);
  if (set.has('MatMul') && (set.size === 1 || (set.size === 2 && set.has('Add')))) return 'Linear';
  if (set.has('Erf')) return 'GELU';
  if (set.size === 2 && set.has('Sigmoid') && set.has('Mul')) return 'SiLU';
  if (set.has('Softmax') && set.has('MatMul')) return 'Attention';
  if (set.has('MatMulInteger')) return 'Linear (int8)';
  if (set.has('ReduceMean') && set.has('Sqrt')) return 'LayerNorm';
  return core.join('+') || 'Module';
}

/** A module whose own node (not a child's) is a fused attention op: GPT-2's `attn` around its c_proj. */
export function ownsFusedAttention(info: ModuleInfo, index: GraphIndex, own: (node: number) => boolean): boolean {
  return info.calls.some((c) => c.nodes.some((n) => own(n) && FUSED_ATTENTION_OPS.has(index.nodes[n].opType ?? '')));
}

const FUSED_ATTENTION_OPS = new Set(['Attention', 'MultiHeadAttention', 'GroupQueryAttention', 'PackedAttention']);

/** A lone Gather from an initializer (the table) by the module's input: an nn.Embedding. */
function readsTable(info: ModuleInfo, index: GraphIndex): boolean {
  const gathers = info.calls[0]?.nodes.map((n) => index.nodes[n]).filter((n) => n.opType === 'Gather') ?? [];
  const axis = gathers[0]?.attribute?.find((a) => a.name === 'axis')?.i ?? 0;
  return gathers.length === 1 && Number(axis) === 0 && index.initializers.has(gathers[0].input?.[0] ?? '');
}

/** MatMulNBits' `bits` attribute (4 for the q4 exports). */
function nBits(info: ModuleInfo, index: GraphIndex): number {
  const node = info.calls[0]?.nodes.map((n) => index.nodes[n]).find((n) => n.opType === 'MatMulNBits');
  return Number(node?.attribute?.find((a) => a.name === 'bits')?.i ?? 4);
}

/** Conv2d vs Conv1d from the weight's rank or the kernel's; a BatchNorm takes its producing Conv's. */
function spatialSuffix(info: ModuleInfo, index: GraphIndex, op: string): string {
  let node = info.calls[0]?.nodes.map((n) => index.nodes[n]).find((n) => n.opType === op);
  if (node?.opType === 'BatchNormalization') {
    const producer = index.producer.get(node.input?.[0] ?? '');
    node = producer === undefined ? undefined : index.nodes[producer];
  }
  const weight = node?.opType?.startsWith('Conv')
    ? index.graph.initializer?.find((t) => t.name === node?.input?.[1])
    : undefined;
  const rank = weight?.dims?.length ?? (node?.attribute?.find((a) => a.name === 'kernel_shape')?.ints?.length ?? 0) + 2;
  const spatial = rank - 2;
  return spatial >= 1 && spatial <= 3 ? `${spatial}d` : '';
}

/** ` (int8)` / ` (uint8)` when the op's weight is dequantized from a stored integer initializer (QDQ export). */
function quantizedWeight(info: ModuleInfo, index: GraphIndex, op: string): string {
  const node = info.calls[0]?.nodes.map((n) => index.nodes[n]).find((n) => n.opType === op);
  const producer = index.producer.get(node?.input?.[1] ?? '');
  const dq = producer === undefined ? undefined : index.nodes[producer];
  if (dq?.opType !== 'DequantizeLinear') return '';
  const stored = index.graph.initializer?.find((t) => t.name === dq.input?.[0]);
  if (stored?.dataType === DataType.INT8) return ' (int8)';
  return stored?.dataType === DataType.UINT8 ? ' (uint8)' : '';
}

/** A torch.ao QuantStub / DeQuantStub after convert (nnq.Quantize, nnq.DeQuantize): one quantizer op, casts aside. */
function quantizerType(ops: readonly string[]): string | undefined {
  const own = ops.filter((op) => op !== 'Constant' && op !== 'Cast');
  if (own.length !== 1) return undefined;
  return own[0] === 'QuantizeLinear' ? 'Quantize' : own[0] === 'DequantizeLinear' ? 'DeQuantize' : undefined;
}

/** torch.nn's own layers that return one tensor, by the type inferred from their ops or named by the exporter. */
const ONE_TENSOR_LAYERS = new Set([
  ...Object.values(SINGLE_OP_TYPES).filter((t) => !RECURRENT.includes(t)),
  ...Object.values(SPATIAL_OPS),
  'Linear',
  'GELU',
  'LayerNorm',
]);

/**
 * A leaf whose ops are those of one of torch.nn's single-tensor layers (one Gemm: Linear; one Relu:
 * ReLU): taken as that layer, which never returns its input beside its output.
 */
export function isOneTensorLayer(info: ModuleInfo): boolean {
  if (info.children.length > 0) return false;
  return ONE_TENSOR_LAYERS.has(info.type.replace(/ \((u?int8)\)$/, '').replace(/[123]d$/, ''));
}
