import { describe, expect, it } from 'vitest';

import { extent, lineChart, linePath, niceTicks, parallelPaths, scale, sparkline } from './charts';

describe('scales and ticks', () => {
  it('finds the extent of finite values and widens flat ones', () => {
    expect(extent([3, NaN, -1, Infinity, 2])).toEqual([-1, 3]);
    expect(extent([])).toEqual([0, 1]);
    expect(extent([5, 5])).toEqual([4.75, 5.25]);
    expect(extent([0])).toEqual([-1, 1]);
  });

  it('maps linearly, also reversed', () => {
    const s = scale(0, 10, 100, 0);
    expect(s(0)).toBe(100);
    expect(s(5)).toBe(50);
    expect(s(10)).toBe(0);
  });

  it('picks round ticks', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 1000, 4)).toEqual([0, 500, 1000]);
    expect(niceTicks(0.13, 0.47, 4)).toEqual([0.2, 0.3, 0.4]);
    expect(niceTicks(1, 1)).toEqual([1]);
  });
});

describe('paths', () => {
  const id = (v: number) => v;

  it('breaks the line at non-finite values', () => {
    const d = linePath(
      [
        { x: 0, y: 1 },
        { x: 1, y: NaN },
        { x: 2, y: 3 },
        { x: 3, y: 4 }
      ],
      id,
      id
    );
    expect(d).toBe('M0.0,1.0M2.0,3.0L3.0,4.0');
  });

  it('draws every series on shared axes inside the box', () => {
    const box = { width: 200, height: 100, left: 10, right: 10, top: 10, bottom: 10 };
    const chart = lineChart(
      [
        {
          id: 'a',
          color: '#f00',
          label: 'a',
          points: [
            { x: 0, y: 0 },
            { x: 10, y: 1 }
          ]
        },
        { id: 'b', color: '#0f0', label: 'b', points: [{ x: 5, y: 0.5 }] }
      ],
      box
    );
    expect(chart.paths.map(p => p.id)).toEqual(['a', 'b']);
    expect(chart.paths[0].d).toBe('M10.0,90.0L190.0,10.0');
    expect(chart.paths[1].d).toBe('M100.0,50.0');
    for (const t of chart.xTicks) {
      expect(t.pos).toBeGreaterThanOrEqual(10);
      expect(t.pos).toBeLessThanOrEqual(190);
    }
  });

  it('draws a sparkline in its box', () => {
    expect(sparkline([0, 1, 0], 11, 12)).toBe('M1.0,11.0L5.5,1.0L10.0,11.0');
  });

  it('draws one parallel-coordinates path per run, each axis scaled alone', () => {
    const box = { width: 120, height: 100, left: 10, right: 10, top: 0, bottom: 0 };
    const paths = parallelPaths(
      [
        { label: 'lr', values: [0.1, 0.01] },
        { label: 'loss', values: [5, 10] }
      ],
      2,
      box
    );
    expect(paths).toEqual(['M10.0,0.0L110.0,100.0', 'M10.0,100.0L110.0,0.0']);
  });
});
