/**
 * Promises kept per key (sessions, plans): made on the first call, shared by later ones, and
 * forgotten when they reject, so that a failed creation is tried again next time.
 */
export class PromiseCache<T> {
  readonly #kept = new Map<string, Promise<T>>();

  /** At most `max` promises are kept; past it the oldest is forgotten. */
  constructor(private readonly max = Number.POSITIVE_INFINITY) {}

  get(key: string, make: () => Promise<T>): Promise<T> {
    let kept = this.#kept.get(key);
    if (!kept) {
      if (this.#kept.size >= this.max) this.#kept.delete(this.#kept.keys().next().value!);
      kept = make();
      kept.catch(() => this.#kept.delete(key));
      this.#kept.set(key, kept);
    }
    return kept;
  }

  /** Everything kept so far, forgotten here (to release it). */
  take(): Promise<T>[] {
    const all = [...this.#kept.values()];
    this.#kept.clear();
    return all;
  }
}
