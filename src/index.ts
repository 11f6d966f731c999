/**
 * neurotap's isomorphic core: bytes in, a Runtime injected; no Node built-ins, no onnxruntime package.
 * The `neurotap` (Node) and `neurotap/web` entries bind a runtime and add file loading.
 */
export { NeurotapError, isNeurotapError, type ErrorCode } from './errors.js';
export { NeurotapModel, type LoadOptions, type CaptureOptions, type ModuleSummary } from './model.js';
export { ActivationCache } from './capture/activation-cache.js';
export type { ValueName } from './capture/value-names.js';
export type { RenameMap } from './capture/rename.js';
export type { SavedTensors } from './runtime/runtime.js';
export type {
  CaptureTarget,
  LayerPreset,
  LayerSpec,
  Selection,
  SelectOptions,
  Unobservable,
} from './capture/select.js';
export type { ForwardHook, ForwardPreHook, HookHandle, HookModule, HookOutput } from './capture/hooks.js';
export type { ArrayFeed, Feed, Feeds } from './capture/feeds.js';
export {
  zero,
  scale,
  add,
  clamp,
  replace,
  patchFrom,
  type EditCallback,
  type EditOp,
  type EditTensor,
  type PatchSource,
} from './capture/edit-ops.js';
export type { EditOptions } from './capture/edits.js';
export type { ModuleInfo, ModuleCall, ModuleMap, NotObservable } from './modules/module-map.js';
export type { InputRole } from './graph/input-roles.js';
export type { Runtime, ModelSource } from './runtime/runtime.js';
export type { DType, HostTensor, PlainTensor, TypedArray } from './tensor.js';
export { decodeModel, encodeModel } from './onnx/codec.js';
export {
  compareCaches,
  compareModels,
  type Comparison,
  type CompareCachesOptions,
  type CompareModelsOptions,
  type CompareSide,
  type KeyComparison,
  type Unmatched,
} from './compare/compare.js';
export { encodeNpy, parseNpy } from './formats/npy.js';
export { encodeNpz, parseNpz } from './formats/npz.js';
export { encodeSafetensors, parseSafetensors, type Safetensors } from './formats/safetensors.js';
export type * as onnx from './onnx/types.js';
export { parseTokenizer, type TokenVocab } from './lens/tokenizer.js';
export type { LensLayer, LensOptions, LensResult, LensToken } from './lens/lens.js';
export { float16ToFloat32 } from './tensor-summary.js';
