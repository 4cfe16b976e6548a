/**
 * DOM side of the charts: turns the geometry of charts.ts into SVG elements.
 */
import {
  IAxis,
  IBox,
  ISeries,
  lineChart,
  niceTicks,
  parallelPaths,
  sparkline,
  extent,
  scale
} from './charts';
import { formatNumber } from './logic';

const NS = 'http://www.w3.org/2000/svg';

function el<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  parent?: Element
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    node.setAttribute(k, String(v));
  }
  parent?.appendChild(node);
  return node;
}

/** A sparkline of `values`, `width` x `height` px, in `color`. */
export function sparklineSvg(
  values: number[],
  color: string,
  width = 120,
  height = 24
): SVGSVGElement {
  const svg = el('svg', {
    class: 'nbtl-sparkline',
    width,
    height,
    viewBox: `0 0 ${width} ${height}`
  });
  el('path', { d: sparkline(values, width, height), stroke: color, fill: 'none' }, svg);
  return svg;
}

/** Overlaid curves of several runs on shared axes; one `path.nbtl-trace` per run. */
export function lineChartSvg(
  title: string,
  series: ISeries[],
  width = 640,
  height = 260
): SVGSVGElement {
  const box: IBox = { width, height, left: 56, right: 12, top: 24, bottom: 28 };
  const chart = lineChart(series, box);
  const svg = el('svg', {
    class: 'nbtl-chart',
    viewBox: `0 0 ${width} ${height}`,
    preserveAspectRatio: 'xMidYMid meet',
    role: 'img',
    'aria-label': title
  });
  el('text', { x: box.left, y: 16, class: 'nbtl-chart-title' }, svg).textContent = title;
  const axes = el('g', { class: 'nbtl-axes' }, svg);
  for (const t of chart.yTicks) {
    el(
      'line',
      { x1: box.left, x2: width - box.right, y1: t.pos, y2: t.pos, class: 'nbtl-grid' },
      axes
    );
    const label = el(
      'text',
      { x: box.left - 6, y: t.pos + 4, class: 'nbtl-tick', 'text-anchor': 'end' },
      axes
    );
    label.textContent = formatNumber(t.value);
  }
  for (const t of chart.xTicks) {
    const label = el(
      'text',
      { x: t.pos, y: height - 10, class: 'nbtl-tick', 'text-anchor': 'middle' },
      axes
    );
    label.textContent = formatNumber(t.value);
  }
  el(
    'line',
    { x1: box.left, x2: box.left, y1: box.top, y2: height - box.bottom, class: 'nbtl-axis' },
    axes
  );
  el(
    'line',
    {
      x1: box.left,
      x2: width - box.right,
      y1: height - box.bottom,
      y2: height - box.bottom,
      class: 'nbtl-axis'
    },
    axes
  );
  for (const p of chart.paths) {
    const path = el(
      'path',
      { d: p.d, stroke: p.color, fill: 'none', class: 'nbtl-trace', 'data-run-id': p.id },
      svg
    );
    el('title', {}, path).textContent = p.label;
  }
  return svg;
}

/** Parallel coordinates: one vertical axis per dimension, one `path.nbtl-trace` per run. */
export function parallelSvg(
  axes: IAxis[],
  runs: { id: string; color: string; label: string }[],
  width = 900,
  height = 300
): SVGSVGElement {
  const box: IBox = { width, height, left: 60, right: 60, top: 36, bottom: 24 };
  const svg = el('svg', {
    class: 'nbtl-chart nbtl-parallel',
    viewBox: `0 0 ${width} ${height}`,
    preserveAspectRatio: 'xMidYMid meet',
    role: 'img',
    'aria-label': 'parallel coordinates'
  });
  const ax = scale(0, Math.max(1, axes.length - 1), box.left, width - box.right);
  axes.forEach((a, i) => {
    const x = ax(i);
    el('line', { x1: x, x2: x, y1: box.top, y2: height - box.bottom, class: 'nbtl-axis' }, svg);
    const label = el('text', { x, y: 14, class: 'nbtl-tick', 'text-anchor': 'middle' }, svg);
    label.textContent = a.label;
    const [lo, hi] = extent(a.values);
    const sy = scale(lo, hi, height - box.bottom, box.top);
    for (const t of niceTicks(lo, hi, 3)) {
      const tick = el('text', { x: x + 4, y: sy(t) + 4, class: 'nbtl-tick' }, svg);
      tick.textContent = formatNumber(t);
    }
  });
  parallelPaths(axes, runs.length, box).forEach((d, i) => {
    const path = el(
      'path',
      { d, stroke: runs[i].color, fill: 'none', class: 'nbtl-trace', 'data-run-id': runs[i].id },
      svg
    );
    el('title', {}, path).textContent = runs[i].label;
  });
  return svg;
}
