/**
 * onnxruntime-genai's model builder writes Llama-family decoders with node names of its own
 * (`/model/layers.0/attn/q_proj/MatMul`, `/model/layers.2/final_norm_layernorm/SkipLayerNorm`) and
 * no PyTorch module structure. Where the Hugging Face name is certain it is used:
 * - `model.layers.N.attn` is `model.layers.N.self_attn` when its children are exactly HF's
 *   separate projections (q_proj, k_proj, v_proj, o_proj): the Llama/Mistral/Qwen/Gemma layout;
 *   a packed `qkv_proj` or other children keep the builder's name;
 * - with that layout, the final norm the builder writes one layer past the last is `model.norm`.
 * Everything else keeps the builder's name (`model.attn_mask_reformat` is the builder's own).
 * The builder's graph does not follow the modules' return structure, so a container returning
 * several values (attention with its KV cache) is reported rather than given a tuple order.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import type { ModuleInfo } from './module-map.js';
import type { ScopeStep } from './scopes.js';

const HF_ATTENTION_CHILDREN = new Set(['q_proj', 'k_proj', 'v_proj', 'o_proj']);
const LAYER = /^model\.layers\.(\d+)\.(.+)$/;

/** True for graphs whose node names follow the model builder's layout. */
export function isModelBuilderGraph(index: GraphIndex): boolean {
  return index.nodes.some((n) => /^\/model\/(layers\.\d+\/attn\/|attn_mask_reformat\/)/.test(n.name ?? ''));
}

/** The HF names for the builder's module paths, where certain. */
export function aliasBuilderNames(index: GraphIndex, paths: ScopeStep[][]): ScopeStep[][] {
  if (!isModelBuilderGraph(index)) return paths;
  const modules = new Set(paths.flatMap((p) => p.map((s) => s.module)));
  const attnChildren = new Map<string, Set<string>>();
  let lastLayer = -1;
  for (const m of modules) {
    const match = LAYER.exec(m);
    if (!match) continue;
    const [, layer, rest] = match;
    if (rest !== 'final_norm_layernorm') lastLayer = Math.max(lastLayer, Number(layer));
    if (rest.startsWith('attn.') && !rest.slice(5).includes('.')) {
      const key = `model.layers.${layer}.attn`;
      (attnChildren.get(key) ?? attnChildren.set(key, new Set()).get(key)!).add(rest.slice(5));
    }
  }
  const hfAttention = new Set(
    [...attnChildren].filter(([, c]) => [...c].every((x) => HF_ATTENTION_CHILDREN.has(x))).map(([m]) => m),
  );
  if (hfAttention.size === 0) return paths;
  const finalNorm = `model.layers.${lastLayer + 1}.final_norm_layernorm`;
  const rename = (module: string): string => {
    if (module === finalNorm) return 'model.norm';
    for (const attn of hfAttention)
      if (module === attn || module.startsWith(`${attn}.`))
        return attn.replace(/\.attn$/, '.self_attn') + module.slice(attn.length);
    return module;
  };
  // The builder's `model.layers.L` holding only the final norm is no HF module.
  const extraLayer = `model.layers.${lastLayer + 1}`;
  const renamed = new Set([...modules].filter((m) => rename(m) !== m || m === extraLayer));
  aliased.set(index, renamed);
  return paths.map((path) =>
    path.filter((s) => s.module !== extraLayer).map((s) => ({ ...s, module: rename(s.module) })),
  );
}

const aliased = new WeakMap<GraphIndex, ReadonlySet<string>>();

/** Builder names replaced by HF ones (their parameters still carry the builder's name). */
export function isAliasedBuilderName(index: GraphIndex, module: string): boolean {
  const names = aliased.get(index);
  return !!names && [...names].some((n) => module === n || module.startsWith(`${n}.`));
}

/** Containers of a builder graph returning several values: reported, not ordered as a guess. */
export function markBuilderTuples(index: GraphIndex, modules: Iterable<ModuleInfo>): void {
  if (!isModelBuilderGraph(index)) return;
  for (const info of modules) {
    if (info.children.length === 0 || info.notObservable) continue;
    const calls = info.calls.filter((c) => c.outputs.length + c.unobservableOutputs.length > 1);
    if (calls.length === 0) continue;
    info.notObservable = {
      reason:
        "it returns several values (e.g. the attention output and the KV cache), and the model builder's graph does not say how the PyTorch module returns them",
      hint: 'Capture its children, or the values by name with the "values" preset.',
    };
  }
}
