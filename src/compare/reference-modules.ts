/**
 * Modules a reference dump names (`neurotap_torch.dump` stores the module tree: name, class, calls)
 * that leave nothing in the export, so the graph alone cannot even name them: a BatchNorm the eval
 * export folded into the Conv before it (`layer1.0.bn1`, mobilenet_v3's trailing `block.3.1`), a
 * Dropout, Identity or StochasticDepth (the identity in eval) that is no numbered gap. The
 * reference's class is the evidence; the reason says what each such class leaves in an export, and a
 * BatchNorm is explained so only where the graph does hold folded Convs.
 */
import type { ModuleInfo } from '../modules/module-map.js';
import type { ModuleSummary } from '../modules/module-summary.js';
import { FOLDED_CONV_REASON } from '../modules/folded-batchnorm.js';

/** Class names of the modules a reference's metadata lists (`[{ name, type, calls }]` as JSON). */
export function referenceModuleTypes(json: string | undefined): Map<string, string> {
  const types = new Map<string, string>();
  if (!json) return types;
  try {
    const table = JSON.parse(json) as { name?: unknown; type?: unknown }[];
    if (Array.isArray(table))
      for (const m of table) if (typeof m?.name === 'string' && typeof m.type === 'string') types.set(m.name, m.type);
  } catch {
    // a reference written by hand or another tool: no module tree, no class-based reasons
  }
  return types;
}

const IDENTITY_IN_EVAL = /^(Dropout\d?d?|AlphaDropout|FeatureAlphaDropout|Identity|StochasticDepth|DropPath)$/;

function article(word: string): string {
  return /^[AEIOU]/.test(word) ? 'an' : 'a';
}

/** Why a module the reference lists left no trace in the export, where its class says it cannot. */
export function untracedReason(type: string | undefined, modules: () => readonly ModuleSummary[]): string | undefined {
  if (type === undefined) return undefined;
  if (IDENTITY_IN_EVAL.test(type))
    return `no trace in the graph: the reference's module is ${article(type)} ${type}, which is the identity in eval and exports as no node`;
  if (!/^(BatchNorm[123]d|SyncBatchNorm)$/.test(type)) return undefined;
  const folded = modules().filter((m) => m.notObservable?.reason.startsWith(FOLDED_CONV_REASON)).length;
  if (folded === 0) return undefined;
  return `no trace in the graph: the reference's module is a ${type}, and this export folded BatchNorms into ${folded} Convs (their weights renamed onnx::Conv_*), leaving no node or parameter of it; re-export with training=torch.onnx.TrainingMode.PRESERVE to keep it`;
}

/**
 * Why a reference's input key has no partner where the module's call reads no graph value: what it
 * received did not depend on the model's inputs (RAFT's zero initial flow), so the exporter folded it
 * into a constant, which is no value a capture can return under the call.
 */
export function constantInputReason(info: ModuleInfo, key: string): string | undefined {
  const m = /^in:[^#:]+(?::(\d+))?#\d+/.exec(key);
  if (!m) return undefined;
  const call = info.calls.find((c) => c.index === Number(m[1] ?? 1));
  if (!call || call.inputs.length > 0) return undefined;
  return 'no graph value enters this call: it computes from weights and constants only, so what it received did not depend on the model inputs and the exporter folded it into a constant';
}
