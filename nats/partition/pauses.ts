/**
 * The pauses of a partition worker (before another attempt, another dead-letter write, another
 * catch-up read), all cut short at once when it stops: a stopping worker waits for nothing.
 */
export class Pauses {
  private readonly sleeping = new Set<() => void>();
  private stopped = false;

  /** Waits `ms`; false when `stop()` cut it short (or had been called). */
  sleep(ms: number): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleeping.delete(wake);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.sleeping.delete(wake);
        resolve(true);
      }, ms);
      this.sleeping.add(wake);
    });
  }

  /** Ends every pause in progress, and every later one at once. */
  stop(): void {
    this.stopped = true;
    for (const wake of [...this.sleeping]) wake();
  }
}
