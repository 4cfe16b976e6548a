/**
 * Polls a conditional fetch on an interval; calls back only when the answer changed.
 *
 * The fetch returns `null` when the server answered 304 (ETag unchanged). Polls never
 * overlap: the next one is scheduled when the previous one has settled.
 */
export interface IPollerOptions<T> {
  fetch: () => Promise<T | null>;
  onChange: (value: T) => void;
  onError?: (error: unknown) => void;
  interval: number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

export class Poller<T> {
  constructor(private options: IPollerOptions<T>) {}

  get interval(): number {
    return this.options.interval;
  }

  set interval(ms: number) {
    this.options.interval = Math.max(100, ms);
    if (this.running) {
      this.schedule();
    }
  }

  get running(): boolean {
    return this._running;
  }

  start(): void {
    if (this._running) {
      return;
    }
    this._running = true;
    void this.tick();
  }

  stop(): void {
    this._running = false;
    this.clear();
  }

  /** Poll now (e.g. after a write or a new filter), then go on at the interval. */
  async refresh(): Promise<void> {
    this.clear();
    await this.tick();
  }

  private clear(): void {
    if (this.handle !== null) {
      (this.options.clearTimer ?? ((h: unknown) => clearTimeout(h as number)))(this.handle);
      this.handle = null;
    }
  }

  private schedule(): void {
    this.clear();
    if (!this._running) {
      return;
    }
    const set = this.options.setTimer ?? ((fn: () => void, ms: number) => setTimeout(fn, ms));
    this.handle = set(() => {
      this.handle = null;
      void this.tick();
    }, this.options.interval);
  }

  private async tick(): Promise<void> {
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    this.inFlight = (async () => {
      try {
        const value = await this.options.fetch();
        if (value !== null) {
          this.options.onChange(value);
        }
      } catch (error) {
        this.options.onError?.(error);
      }
    })();
    await this.inFlight;
    this.inFlight = null;
    if (this.again) {
      this.again = false;
      await this.tick();
      return;
    }
    this.schedule();
  }

  private _running = false;
  private handle: unknown = null;
  private inFlight: Promise<void> | null = null;
  private again = false;
}
