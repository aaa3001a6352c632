/**
 * Jobs run one at a time per key (an instance, a VPC), in the order they came; a failed job does not stop the next.
 * Keys with nothing queued are forgotten.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** onError: told of a job's failure (the caller of run() gets it too). */
  constructor(private readonly onError: (key: string, err: Error) => void = () => undefined) {}

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const next = (this.tails.get(key) ?? Promise.resolve()).then(fn, fn);
    const tail = next.catch((err) => this.onError(key, err as Error));
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }

  /** Resolves once what is queued for the key (or, without one, for every key) has run. */
  async idle(key?: string): Promise<void> {
    if (key !== undefined) {
      await this.tails.get(key);
      return;
    }
    while (this.tails.size) await Promise.allSettled([...this.tails.values()]);
  }
}
