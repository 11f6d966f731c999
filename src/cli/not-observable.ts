/**
 * Not-observable modules as the commands print them: one line per key with its reason, and each
 * distinct hint once, after the keys it applies to (a ResNet export folds 20 BatchNorms: one hint,
 * not 20). A selection where nothing is observable is an error, not an empty success.
 */
import type { Unobservable } from '../capture/select.js';
import { NeurotapError } from '../errors.js';
import type { Styles } from './format.js';

const QUOTED = /'[^']*'/g;

/** The keys grouped by hint, where hints differing only in quoted names (the fused value of each Conv) are one. */
function byHint(list: readonly Unobservable[]): Map<string, Unobservable[]> {
  const groups = new Map<string, Unobservable[]>();
  for (const u of list) {
    const template = u.hint.replace(QUOTED, "'…'");
    groups.set(template, [...(groups.get(template) ?? []), u]);
  }
  return groups;
}

/** The hint once for its group: quoted names that differ between the keys become '…' (each key line shows its own). */
function groupHint(keys: readonly Unobservable[]): { hint: string; own: (u: Unobservable) => string[] } {
  const quoted = (u: Unobservable) => u.hint.match(QUOTED) ?? [];
  const first = quoted(keys[0]);
  const differs = first.map((q, i) => keys.some((u) => quoted(u)[i] !== q));
  let i = 0;
  const hint = keys[0].hint.replace(QUOTED, (q) => (differs[i++] ? "'…'" : q));
  return { hint, own: (u) => quoted(u).filter((_, j) => differs[j]) };
}

export function notObservableLines(list: readonly Unobservable[], s: Styles): string[] {
  if (list.length === 0) return [];
  const lines = ['', s.bold(s.yellow(`not observable (${list.length})`))];
  const groups = byHint(list);
  for (const keys of groups.values()) {
    const { hint, own } = groupHint(keys);
    for (const u of keys) {
      const names = own(u);
      lines.push(`  ${u.key}: ${u.reason}${names.length ? s.dim(` (… = ${names.join(', ')})`) : ''}`);
    }
    const scope = keys.length === 1 ? '' : groups.size === 1 ? ` (all ${keys.length})` : ` (the ${keys.length} above)`;
    lines.push(s.dim(`  hint${scope}: ${hint}`));
  }
  return lines;
}

/** Throws when a capture would return (or returned) nothing because every selected module is not observable. */
export function requireObservable(keys: number, notObservable: readonly Unobservable[]): void {
  if (keys > 0 || notObservable.length === 0) return;
  const shown = notObservable.slice(0, 5).map((u) => `${u.key} (${u.reason})`);
  const more = notObservable.length > 5 ? `, and ${notObservable.length - 5} more` : '';
  throw new NeurotapError(
    'E_NOT_OBSERVABLE',
    `Nothing to capture: every selected module is not observable: ${shown.join('; ')}${more}.`,
    {
      hint: [...byHint(notObservable).values()].map((keys) => groupHint(keys).hint).join(' '),
      details: { notObservable: notObservable.map((u) => ({ key: u.key, reason: u.reason })) },
    },
  );
}
