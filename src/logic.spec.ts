import { describe, expect, it } from 'vitest';

import {
  cellHash,
  findRunCell,
  formatDuration,
  formatNumber,
  isSystemTag,
  loadRunCode,
  mergePolled,
  metricKeys,
  metricNumber,
  parallelDimensions,
  paramsTable,
  relativeTime,
  serverPath,
  visibleRange
} from './logic';
import type { IRunRecord } from './request';

function run(
  id: string,
  params: Record<string, string>,
  metrics: Record<string, any> = {}
): IRunRecord {
  return {
    run_id: id,
    color: '#000000',
    name: id,
    experiment: 'Default',
    status: 'FINISHED',
    start_time: 0,
    end_time: 1,
    duration_s: 0.001,
    parent_run_id: null,
    description: null,
    params,
    metrics,
    tags: {}
  };
}

describe('metric values', () => {
  it('reads the strings the API uses for non-finite numbers', () => {
    expect(metricNumber(0.5)).toBe(0.5);
    expect(metricNumber('Infinity')).toBe(Infinity);
    expect(metricNumber('-Infinity')).toBe(-Infinity);
    expect(Number.isNaN(metricNumber('NaN'))).toBe(true);
    expect(Number.isNaN(metricNumber(undefined))).toBe(true);
  });

  it('formats numbers short', () => {
    expect(formatNumber(0.123456)).toBe('0.1235');
    expect(formatNumber(123456)).toBe('1.235e+5');
    expect(formatNumber(0.00001)).toBe('1.000e-5');
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(NaN)).toBe('NaN');
    expect(formatNumber(-Infinity)).toBe('-∞');
  });
});

describe('times', () => {
  it('says how long ago', () => {
    expect(relativeTime(1000, 4000)).toBe('3 s ago');
    expect(relativeTime(0, 5 * 60_000)).toBe('5 min ago');
    expect(relativeTime(0, 2 * 3600_000)).toBe('2 h ago');
    expect(relativeTime(0, 4 * 86400_000)).toBe('4 d ago');
    expect(relativeTime(null, 0)).toBe('');
  });

  it('formats durations', () => {
    expect(formatDuration(0.85)).toBe('850 ms');
    expect(formatDuration(12.34)).toBe('12.3 s');
    expect(formatDuration(245)).toBe('4 min 5 s');
    expect(formatDuration(7380)).toBe('2 h 3 min');
    expect(formatDuration(null)).toBe('');
  });
});

describe('virtualized list window', () => {
  it('renders only the rows in view plus the overscan', () => {
    expect(visibleRange(0, 300, 30, 100_000, 5)).toEqual({ start: 0, end: 16 });
    const mid = visibleRange(30 * 50_000, 300, 30, 100_000, 5);
    expect(mid).toEqual({ start: 49_995, end: 50_016 });
    expect(mid.end - mid.start).toBeLessThan(30);
  });

  it('clamps at the ends and on empty lists', () => {
    expect(visibleRange(30 * 99_999, 300, 30, 100_000, 5)).toEqual({ start: 99_994, end: 100_000 });
    expect(visibleRange(0, 300, 30, 0)).toEqual({ start: 0, end: 0 });
    expect(visibleRange(-50, 300, 30, 3)).toEqual({ start: 0, end: 3 });
  });
});

describe('comparing runs', () => {
  const runs = [
    run('a', { lr: '0.1', opt: 'adam', seed: '1' }, { loss: 0.5, acc: 'NaN' }),
    run('b', { lr: '0.01', opt: 'adam' }, { loss: 0.4 })
  ];

  it('marks params that differ, including a missing one', () => {
    expect(paramsTable(runs)).toEqual([
      { key: 'lr', values: ['0.1', '0.01'], differs: true },
      { key: 'opt', values: ['adam', 'adam'], differs: false },
      { key: 'seed', values: ['1', undefined], differs: true }
    ]);
  });

  it('collects metric keys and parallel-coordinate dimensions', () => {
    expect(metricKeys(runs)).toEqual(['acc', 'loss']);
    // opt does not differ, acc has no finite value
    expect(parallelDimensions(runs)).toEqual([
      { kind: 'params', key: 'lr' },
      { kind: 'params', key: 'seed' },
      { kind: 'metrics', key: 'loss' }
    ]);
  });
});

describe('small things', () => {
  it('hides tags that nbtrack writes itself', () => {
    expect(isSystemTag('nbtrack.notebook')).toBe(true);
    expect(isSystemTag('mlflow.runName')).toBe(true);
    expect(isSystemTag('team')).toBe(false);
  });

  it('writes code that loads the run', () => {
    expect(loadRunCode('abc"d')).toContain('nt.get_run("abc\\"d")');
  });
});

describe('merging a poll into a long list', () => {
  const ids = (xs: { run_id: string }[]) => xs.map(x => x.run_id);
  const r = (id: string) => ({ run_id: id });

  it('takes the poll when it covers everything loaded', () => {
    expect(ids(mergePolled([r('a'), r('b')], [r('n'), r('a'), r('b')], false))).toEqual([
      'n',
      'a',
      'b'
    ]);
    expect(ids(mergePolled([r('a'), r('b')], [r('a')], false))).toEqual(['a']); // b was deleted
  });

  it('keeps the pages loaded beyond the poll, without duplicates', () => {
    const loaded = [r('a'), r('b'), r('c'), r('d')];
    // a new run n pushed b to the edge of the polled window
    expect(ids(mergePolled(loaded, [r('n'), r('a')], true))).toEqual(['n', 'a', 'c', 'd']);
  });
});

describe('finding the cell a run came from', () => {
  // sha256("import nbtrack as nt\nnt.log_metric('x', 1)")[:16], computed with Python's hashlib
  const hash = 'b9e8775babcce7d9';
  const body = "import nbtrack as nt\nnt.log_metric('x', 1)";

  it('hashes like nbtrack does', async () => {
    expect(await cellHash(body)).toBe(hash);
  });

  it('finds the %%track cell whose body still hashes the same', async () => {
    const cells = [
      { source: 'x = 1', executionCount: 1 },
      { source: `%%track\n${body}`, executionCount: null },
      { source: `%%track\n${body} # edited`, executionCount: 3 }
    ];
    expect(await findRunCell(cells, hash, '3')).toBe(1);
  });

  it('falls back to the execution count, and says -1 when the cell is gone', async () => {
    const cells = [
      { source: 'a', executionCount: 1 },
      { source: '%%track\nchanged', executionCount: 2 }
    ];
    expect(await findRunCell(cells, hash, '2')).toBe(1);
    expect(await findRunCell(cells, hash, '7')).toBe(-1);
    expect(await findRunCell(cells, undefined, undefined)).toBe(-1);
  });

  it('makes absolute notebook paths relative to the server root', () => {
    expect(serverPath('/home/me/work/a/b.ipynb', '/home/me/work')).toBe('a/b.ipynb');
    expect(serverPath('/elsewhere/b.ipynb', '/home/me/work')).toBe('/elsewhere/b.ipynb');
    expect(serverPath('a/b.ipynb', '/home/me/work')).toBe('a/b.ipynb');
  });
});
