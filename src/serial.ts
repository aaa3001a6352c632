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

/**
 * One job run one at a time, never more often than asked: asked while it runs, it runs once more after it, and every
 * ask meanwhile shares that run (which begins after them all, so it sees what they changed). A failed run is its
 * askers' to handle; the next one runs regardless.
 */
export class Coalesced {
  /** The run asked for and not begun yet (askers share it), and the last one begun. */
  private next?: Promise<void>;
  private last: Promise<unknown> = Promise.resolve();

  constructor(private readonly job: () => Promise<void>) {}

  ask(): Promise<void> {
    if (this.next) return this.next;
    const next = this.last.then(() => {
      this.next = undefined;
      return this.job();
    });
    this.next = next;
    this.last = next.catch(() => undefined);
    return next;
  }
}
