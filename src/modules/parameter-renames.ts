/**
 * Parameter names as evidence of module paths: `fc.weight` is owned by `fc`, and where a scoped name
 * contradicts the path of the parameters its nodes read (a container dropped from scopes, a module a
 * forward hook calls), the parameter path wins.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import type { NodeProto } from '../onnx/types.js';
import type { ScopeStep } from './scopes.js';

/** `layer1.0.conv1.weight` → `layer1.0.conv1`; anonymous names (`onnx::Conv_193`) → undefined. */
export function parameterOwner(name: string): string | undefined {
  // `/transformer/wpe/Gather_output_0`: a value an optimiser folded into a constant (fused-scopes.ts).
  if (name.includes('::') || !name.includes('.') || name.startsWith('/')) return undefined;
  // ONNX Runtime's Conv fusions name the weights they compute after the originals (runtime-rewrites.ts).
  const original = name.replace(ORT_FUSED_PARAMETER, '');
  const owner = original.slice(0, original.lastIndexOf('.'));
  // The model builder names a weight after its node: `model.layers.0.attn.q_proj.MatMul.weight_Q4`.
  return BUILDER_OP_SUFFIX.test(owner) ? owner.replace(BUILDER_OP_SUFFIX, '') || undefined : owner;
}

/** The prefixes ONNX Runtime's Conv fusions give the initializers they compute from the originals. */
const ORT_FUSED_PARAMETER = /^(ConvBnFusion_(W|BN_B)|ConvAddFusion_(Add_B|B)|ConvMulFusion_(W|Mul_B))_/;

const BUILDER_OP_SUFFIX = /\.(MatMul|Gemm|Conv)$/;

/** Module names that own a named parameter, with all their ancestors. */
export function parameterModulesOf(index: GraphIndex): Set<string> {
  const modules = new Set<string>();
  for (const name of index.initializers) {
    const owner = parameterOwner(name);
    if (owner === undefined) continue;
    const parts = owner.split('.');
    for (let i = 1; i <= parts.length; i++) modules.add(parts.slice(0, i).join('.'));
  }
  return modules;
}

/**
 * Containers whose forward never runs (ModuleDict, a ModuleList indexed in the parent) leave no scope:
 * `/blocks.0/q/Gemm` reads `blocks.0.proj.q.weight`. Where a scoped module owns no parameter but the
 * nodes in it read the parameters of one module whose path contains the scoped one's components in
 * order and ends the same (`blocks.0.q` in `blocks.0.proj.q`), the parameter path is the module's name.
 * Tied weights (`lm_head` reading `embed.weight`) end differently and keep their scope.
 */
export function renameByParameters(
  index: GraphIndex,
  paths: ScopeStep[][],
  parameterModules: ReadonlySet<string>,
  renamed: Set<string>,
  renamesOut?: Map<string, string>,
): ScopeStep[][] {
  const owners = new Map<string, Set<string>>();
  paths.forEach((path, i) => {
    const module = path.at(-1)?.module;
    if (module === undefined || parameterModules.has(module)) return;
    for (const input of index.nodes[i].input ?? []) {
      const owner = index.initializers.has(input) ? parameterOwner(input) : undefined;
      if (owner !== undefined) (owners.get(module) ?? owners.set(module, new Set()).get(module)!).add(owner);
    }
  });
  const renames = new Map<string, string>();
  for (const [module, found] of owners) {
    const [owner] = found;
    if (found.size !== 1) continue;
    // The owner may be an ancestor the scopes also name short: `/0/weight/weight.0/Trilu` reads
    // `0.parametrizations.weight.original`, so `0.weight` is `0.parametrizations.weight`.
    const parts = module.split('.');
    for (let k = parts.length; k > 0; k--) {
      const scoped = parts.slice(0, k);
      if (k < parts.length && parameterModules.has(scoped.join('.'))) break;
      if (!containsInOrder(owner.split('.'), scoped)) continue;
      renames.set(scoped.join('.'), owner);
      break;
    }
  }
  paths = renameCallsByParameters(index, paths, parameterModules, owners, renamed);
  if (renames.size === 0) return paths;
  for (const [from, to] of renames) {
    renamed.add(to);
    renamesOut?.set(from, to);
  }
  const rename = moduleRenamer(renames, parameterModules);
  return paths.map((path) =>
    path.length === 0 ? path : path.map((step) => ({ ...step, module: rename(step.module) })),
  );
}

/**
 * Scoped module names → parameter paths, given the renames read from the parameters: a descendant
 * or an ancestor of a renamed module follows it, and so does a parameterless sibling (`right.1`, a
 * Tanh beside `right.0` → `heads.right.0`, is `heads.right.1`). Also used for the value names of ops
 * ONNX Runtime fused away (runtime-rewrites.ts).
 */
export function moduleRenamer(
  renames: ReadonlyMap<string, string>,
  parameterModules: ReadonlySet<string>,
): (module: string) => string {
  const direct = (module: string) => {
    for (const [from, to] of renames) {
      if (module === from) return to;
      // A descendant (`enc.0.act` of `enc.0`) or an ancestor (`enc` of `enc.0` → `blocks.enc`) follows.
      if (module.startsWith(`${from}.`)) return to + module.slice(from.length);
      const rest = from.slice(module.length);
      if (from.startsWith(`${module}.`) && to.endsWith(rest)) return to.slice(0, to.length - rest.length);
    }
    return module;
  };
  return (module) => {
    if (renames.size === 0 || parameterModules.has(module)) return module;
    const to = direct(module);
    if (to !== module) return to;
    const parts = module.split('.');
    for (let k = parts.length - 1; k > 0; k--) {
      const prefix = parts.slice(0, k).join('.');
      const moved = direct(prefix);
      if (moved !== prefix) return moved + module.slice(prefix.length);
    }
    return module;
  };
}

/**
 * A module a forward hook calls runs outside its owner's scope: torch.ao's observers and fake
 * quantizers (`quant.activation_post_process`, `conv.activation_post_process`) export as
 * `/activation_post_process/…`, `/activation_post_process_1/…`, which read as two calls of one
 * top-level module. Where each call of such a parameterless scope reads the parameters of exactly
 * one module that ends the same (and the calls read different ones), each call is that module's.
 */
function renameCallsByParameters(
  index: GraphIndex,
  paths: ScopeStep[][],
  parameterModules: ReadonlySet<string>,
  owners: ReadonlyMap<string, ReadonlySet<string>>,
  renamed: Set<string>,
): ScopeStep[][] {
  // Per scoped module with several owners: the parameter owners each of its calls reads.
  const calls = new Map<string, Map<number, Set<string>>>();
  paths.forEach((path, i) => {
    const last = path.at(-1);
    if (last === undefined || (owners.get(last.module)?.size ?? 0) < 2 || parameterModules.has(last.module)) return;
    const byCall = calls.get(last.module) ?? calls.set(last.module, new Map()).get(last.module)!;
    const found = byCall.get(last.call) ?? byCall.set(last.call, new Set()).get(last.call)!;
    for (const owner of parameterOwners(index.nodes[i], index)) found.add(owner);
  });
  const callOwner = new Map<string, { module: string; call: number }>();
  for (const [module, byCall] of calls) {
    const single = [...byCall.values()].every(
      (found) => found.size === 1 && containsInOrder([...found][0].split('.'), module.split('.')),
    );
    if (!single) continue;
    // Each owner's calls are numbered in the order of the scoped calls.
    const seen = new Map<string, number>();
    for (const [call, found] of [...byCall].sort((x, y) => x[0] - y[0])) {
      const owner = [...found][0];
      seen.set(owner, (seen.get(owner) ?? 0) + 1);
      callOwner.set(`${module}\u0000${call}`, { module: owner, call: seen.get(owner)! });
      renamed.add(owner);
    }
  }
  if (callOwner.size === 0) return paths;
  return paths.map((path) => {
    const last = path.at(-1);
    const owner = last && callOwner.get(`${last.module}\u0000${last.call}`);
    if (!owner) return path;
    const parts = owner.module.split('.');
    return parts.map((_, i) => (i === parts.length - 1 ? owner : { module: parts.slice(0, i + 1).join('.'), call: 1 }));
  });
}

/** The modules owning the named parameters a node reads. */
function parameterOwners(node: NodeProto, index: GraphIndex): string[] {
  return (node.input ?? [])
    .map((input) => (index.initializers.has(input) ? parameterOwner(input) : undefined))
    .filter((owner): owner is string => owner !== undefined);
}

/** `whole` holds every part of `parts` in order, with the same last part (`a.b.c` holds `a.c`). */
function containsInOrder(whole: readonly string[], parts: readonly string[]): boolean {
  if (whole.length <= parts.length || whole.at(-1) !== parts.at(-1)) return false;
  let k = 0;
  for (const w of whole) if (k < parts.length && w === parts[k]) k++;
  return k === parts.length;
}
