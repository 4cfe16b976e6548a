import { describe, expect, it } from 'vitest';

import { Poller } from './poller';

function manualTimers() {
  const pending: (() => void)[] = [];
  return {
    setTimer: (fn: () => void) => {
      pending.push(fn);
      return fn;
    },
    clearTimer: (handle: unknown) => {
      const i = pending.indexOf(handle as () => void);
      if (i >= 0) {
        pending.splice(i, 1);
      }
    },
    pending,
    async fire() {
      const fn = pending.shift();
      fn?.();
      await new Promise(r => setTimeout(r, 0));
    }
  };
}

describe('Poller', () => {
  it('calls back only when the fetch has news (not on 304)', async () => {
    const answers: (number | null)[] = [1, null, null, 2];
    const seen: number[] = [];
    const timers = manualTimers();
    const poller = new Poller<number>({
      interval: 1000,
      fetch: async () => answers.shift() ?? null,
      onChange: v => seen.push(v),
      ...timers
    });
    poller.start();
    await new Promise(r => setTimeout(r, 0));
    expect(seen).toEqual([1]);
    expect(timers.pending.length).toBe(1); // exactly one next poll scheduled
    await timers.fire();
    await timers.fire();
    await timers.fire();
    expect(seen).toEqual([1, 2]);
    poller.stop();
    expect(timers.pending.length).toBe(0);
  });

  it('reports errors and keeps polling', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const timers = manualTimers();
    const poller = new Poller<number>({
      interval: 10,
      fetch: async () => {
        calls++;
        if (calls === 1) {
          throw new Error('boom');
        }
        return 7;
      },
      onChange: () => undefined,
      onError: e => errors.push(e),
      ...timers
    });
    poller.start();
    await new Promise(r => setTimeout(r, 0));
    expect(errors.length).toBe(1);
    await timers.fire();
    expect(calls).toBe(2);
    poller.stop();
  });

  it('never overlaps polls: a refresh during a fetch polls once more after it', async () => {
    let release: () => void = () => undefined;
    let calls = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    const timers = manualTimers();
    const poller = new Poller<number>({
      interval: 10,
      fetch: () =>
        new Promise<number>(resolve => {
          calls++;
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          release = () => {
            inFlight--;
            resolve(calls);
          };
        }),
      onChange: () => undefined,
      ...timers
    });
    poller.start();
    const refreshed = poller.refresh();
    release();
    await new Promise(r => setTimeout(r, 0));
    release();
    await refreshed;
    expect(calls).toBe(2);
    expect(maxInFlight).toBe(1);
    poller.stop();
  });
});
