/**
 * Geometry of the small SVG charts (line charts, sparklines, parallel coordinates).
 *
 * Pure functions: data in, SVG path text and tick positions out. The panels turn them
 * into elements; logic.spec.ts checks the numbers. The series arrive already downsampled
 * by the server (the same min/max rule as the inline views).
 */

export interface IPoint {
  x: number;
  y: number;
}

export interface ISeries {
  id: string;
  color: string;
  label: string;
  points: IPoint[];
}

export interface IBox {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** [min, max] of the finite numbers, widened when empty or flat. */
export function extent(values: number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (lo === Infinity) {
    return [0, 1];
  }
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.05;
    return [lo - pad, hi + pad];
  }
  return [lo, hi];
}

/** A linear map from [d0, d1] onto [r0, r1]. */
export function scale(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return (v: number) => r0 + (v - d0) * k;
}

/** About `count` round tick values covering [lo, hi] (1, 2, 5 x 10^n steps). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi <= lo) {
    return Number.isFinite(lo) ? [lo] : [];
  }
  const raw = (hi - lo) / Math.max(1, count);
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map(m => m * power).find(s => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
    ticks.push(Number(t.toPrecision(12)));
  }
  return ticks;
}

/** One decimal, and never "-0.0". */
function fixed(v: number): string {
  const text = v.toFixed(1);
  return text === '-0.0' ? '0.0' : text;
}

/**
 * SVG path text of a series; non-finite y values break the line (a NaN is a gap).
 */
export function linePath(
  points: IPoint[],
  sx: (v: number) => number,
  sy: (v: number) => number
): string {
  let d = '';
  let pen = false;
  for (const p of points) {
    if (!Number.isFinite(p.y) || !Number.isFinite(p.x)) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${fixed(sx(p.x))},${fixed(sy(p.y))}`;
    pen = true;
  }
  return d;
}

export interface ILineChart {
  paths: { id: string; color: string; label: string; d: string }[];
  xTicks: { value: number; pos: number }[];
  yTicks: { value: number; pos: number }[];
}

/** Everything needed to draw several series on shared axes inside `box`. */
export function lineChart(series: ISeries[], box: IBox): ILineChart {
  const xs = series.flatMap(s => s.points.map(p => p.x));
  const ys = series.flatMap(s => s.points.map(p => p.y));
  const [x0, x1] = extent(xs);
  const [y0, y1] = extent(ys);
  const sx = scale(x0, x1, box.left, box.width - box.right);
  const sy = scale(y0, y1, box.height - box.bottom, box.top);
  return {
    paths: series.map(s => ({
      id: s.id,
      color: s.color,
      label: s.label,
      d: linePath(s.points, sx, sy)
    })),
    xTicks: niceTicks(x0, x1, 5).map(value => ({ value, pos: sx(value) })),
    yTicks: niceTicks(y0, y1, 4).map(value => ({ value, pos: sy(value) }))
  };
}

/** Path of a sparkline of `values` in a `width` x `height` box (1 px margin). */
export function sparkline(values: number[], width: number, height: number): string {
  const [lo, hi] = extent(values);
  const sx = scale(0, Math.max(1, values.length - 1), 1, width - 1);
  const sy = scale(lo, hi, height - 1, 1);
  return linePath(
    values.map((y, x) => ({ x, y })),
    sx,
    sy
  );
}

export interface IAxis {
  label: string;
  values: number[];
}

/** One path per run across vertical axes (parallel coordinates); NaN leaves a gap. */
export function parallelPaths(axes: IAxis[], runCount: number, box: IBox): string[] {
  const ax = scale(0, Math.max(1, axes.length - 1), box.left, box.width - box.right);
  const scales = axes.map(a => {
    const [lo, hi] = extent(a.values);
    return scale(lo, hi, box.height - box.bottom, box.top);
  });
  const out: string[] = [];
  for (let r = 0; r < runCount; r++) {
    // x is the axis position already; y is mapped per axis, so the y scale is identity.
    const points = axes.map((a, i) => ({ x: ax(i), y: scales[i](a.values[r]) }));
    out.push(
      linePath(
        points,
        v => v,
        v => v
      )
    );
  }
  return out;
}
