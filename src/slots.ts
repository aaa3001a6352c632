/**
 * At most `size` jobs at once, the rest waiting in the order they came. A waiting job whose signal aborts leaves the
 * line without running (its promise rejects with the signal's reason); a running one is never interrupted.
 */
export class Slots {
  private running = 0;
  private readonly waiting: { start: () => void; cancel: () => void }[] = [];

  constructor(readonly size: () => number) {}

  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await fn();
    } finally {
      this.running--;
      this.next();
    }
  }

  /** Jobs running and waiting: 0 when the line is empty. */
  get load(): number {
    return this.running + this.waiting.length;
  }

  private acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.running < this.size() && !this.waiting.length) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const entry = {
        start: () => {
          signal?.removeEventListener('abort', entry.cancel);
          this.running++;
          resolve();
        },
        cancel: () => {
          const i = this.waiting.indexOf(entry);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(signal!.reason);
        },
      };
      signal?.addEventListener('abort', entry.cancel, { once: true });
      this.waiting.push(entry);
    });
  }

  private next(): void {
    while (this.running < this.size() && this.waiting.length) this.waiting.shift()!.start();
  }
}
