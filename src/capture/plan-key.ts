/**
 * A string that two capture option objects share exactly when they ask for the same plan, so a
 * capture can reuse the selection, requests and session of an earlier one (the plan is most of a
 * small model's capture time). Undefined where options hold something a string cannot stand for
 * (an edit's tensor or callback): those captures plan afresh.
 */
export function planKey(options: object): string | undefined {
  const parts: string[] = [];
  return write(options, parts) ? parts.join('') : undefined;
}

function write(value: unknown, out: string[]): boolean {
  if (value === undefined || value === null || typeof value !== 'object') {
    if (typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint') return false;
    out.push(value === undefined ? 'u' : JSON.stringify(value));
    return true;
  }
  if (value instanceof RegExp) {
    out.push('r', JSON.stringify(String(value)));
    return true;
  }
  if (Array.isArray(value)) {
    out.push('[');
    for (const v of value) if (!write(v, out) || !out.push(',')) return false;
    out.push(']');
    return true;
  }
  // Only plain objects: a tensor, typed array or class instance is not a key.
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  out.push('{');
  for (const k of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[k];
    if (v === undefined) continue;
    out.push(JSON.stringify(k), ':');
    if (!write(v, out)) return false;
    out.push(',');
  }
  out.push('}');
  return true;
}
