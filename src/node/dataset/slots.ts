/**
 * At most `limit` tasks at once (isomorphic): `run` waits for a free slot, first come first
 * served. What bounds the requests in flight to a store, and with them the bytes held for them.
 *
 * ```ts
 * const slots = new Slots(8);
 * await Promise.all(keys.map((k) => slots.run(() => upload(k))));
 * ```
 */
export class Slots {
  #busy = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly limit: number) {}

  /** Tasks running now. */
  get busy(): number {
    return this.#busy;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#busy < this.limit) this.#busy++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve)); // the slot is handed over, still counted
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#busy--;
    }
  }
}
