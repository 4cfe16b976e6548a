/**
 * Pure helpers of the panels (no DOM, no network): tested in logic.spec.ts.
 */
import type { IRunRecord, MetricValue } from './request';

/** A metric value as a number (the API sends non-finite values as strings). */
export function metricNumber(value: MetricValue | undefined | null): number {
  if (value === undefined || value === null) {
    return NaN;
  }
  if (typeof value === 'number') {
    return value;
  }
  if (value === 'Infinity') {
    return Infinity;
  }
  if (value === '-Infinity') {
    return -Infinity;
  }
  return NaN;
}

/** Short text of a number for tables: 4 significant digits, exponent when far from 1. */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) {
    return 'NaN';
  }
  if (!Number.isFinite(value)) {
    return value > 0 ? '∞' : '-∞';
  }
  if (value === 0) {
    return '0';
  }
  const magnitude = Math.abs(value);
  if (magnitude >= 1e5 || magnitude < 1e-3) {
    return value.toExponential(3);
  }
  return String(Number(value.toPrecision(4)));
}

/** "3 s ago", "5 min ago", "2 h ago", "4 d ago" from two times in ms. */
export function relativeTime(thenMs: number | null, nowMs: number): string {
  if (thenMs === null) {
    return '';
  }
  const s = Math.max(0, Math.round((nowMs - thenMs) / 1000));
  if (s < 60) {
    return `${s} s ago`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)} min ago`;
  }
  if (s < 86400) {
    return `${Math.floor(s / 3600)} h ago`;
  }
  return `${Math.floor(s / 86400)} d ago`;
}

/** Duration in seconds as "850 ms", "12.3 s", "4 min 5 s", "2 h 3 min". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) {
    return '';
  }
  if (seconds < 1) {
    return `${Math.round(seconds * 1000)} ms`;
  }
  if (seconds < 60) {
    return `${seconds.toFixed(1)} s`;
  }
  if (seconds < 3600) {
    return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  }
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

/** Rows of a virtualized list that must exist in the DOM for this scroll position. */
export function visibleRange(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  count: number,
  overscan = 8
): { start: number; end: number } {
  if (count <= 0 || rowHeight <= 0) {
    return { start: 0, end: 0 };
  }
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const shown = Math.ceil(Math.max(0, viewportHeight) / rowHeight) + 1;
  const start = Math.max(0, Math.min(count, first - overscan));
  const end = Math.max(start, Math.min(count, first + shown + overscan));
  return { start, end };
}

export interface IParamRow {
  key: string;
  values: (string | undefined)[];
  differs: boolean;
}

/** One row per param key over several runs; `differs` when not every run has the same text. */
export function paramsTable(runs: IRunRecord[]): IParamRow[] {
  const keys = new Set<string>();
  for (const run of runs) {
    Object.keys(run.params).forEach(k => keys.add(k));
  }
  return [...keys].sort().map(key => {
    const values = runs.map(run => run.params[key]);
    const differs = values.some(v => v !== values[0]);
    return { key, values, differs };
  });
}

/** Metric keys of several runs (union), sorted. */
export function metricKeys(runs: IRunRecord[]): string[] {
  const keys = new Set<string>();
  for (const run of runs) {
    Object.keys(run.metrics).forEach(k => keys.add(k));
  }
  return [...keys].sort();
}

/** Tag keys that nbtrack writes itself (hidden from the chips of the sidebar). */
export function isSystemTag(key: string): boolean {
  return key.startsWith('nbtrack.') || key.startsWith('mlflow.');
}

/** Python code that loads a run (the "Insert code" command). */
export function loadRunCode(runId: string): string {
  return `import nbtrack as nt\n\nrun = nt.get_run(${JSON.stringify(runId)})\nrun.params, run.metrics`;
}

/** Sort orders offered by the sidebar: label -> `order_by` items. */
export const SORT_ORDERS: Record<string, string[]> = {
  'Newest first': ['attributes.start_time DESC'],
  'Oldest first': ['attributes.start_time ASC'],
  'Name A-Z': ['attributes.name ASC'],
  'Name Z-A': ['attributes.name DESC'],
  Status: ['attributes.status ASC', 'attributes.start_time DESC'],
  'Longest first': ['attributes.duration DESC']
};

/** Columns of a parallel-coordinates plot: numeric params that vary, then metrics. */
export function parallelDimensions(
  runs: IRunRecord[],
  maxDimensions = 8
): { kind: 'params' | 'metrics'; key: string }[] {
  const dims: { kind: 'params' | 'metrics'; key: string }[] = [];
  for (const row of paramsTable(runs)) {
    const numbers = row.values.map(v => (v === undefined ? NaN : Number(v)));
    if (row.differs && numbers.some(n => Number.isFinite(n))) {
      dims.push({ kind: 'params', key: row.key });
    }
  }
  for (const key of metricKeys(runs)) {
    if (runs.some(run => Number.isFinite(metricNumber(run.metrics[key])))) {
      dims.push({ kind: 'metrics', key });
    }
  }
  return dims.slice(0, maxDimensions);
}

/**
 * The list after a poll. A poll asks for at most 10,000 runs; when the user has scrolled
 * further (more loaded than the poll covers and the poll says more exist), the runs loaded
 * beyond the polled ones stay, without duplicates.
 */
export function mergePolled<T extends { run_id: string }>(
  loaded: T[],
  polled: T[],
  pollHasMore: boolean
): T[] {
  if (!pollHasMore || loaded.length <= polled.length) {
    return polled;
  }
  const seen = new Set(polled.map(r => r.run_id));
  return polled.concat(loaded.slice(polled.length).filter(r => !seen.has(r.run_id)));
}

/** First 16 hex digits of the SHA-256 of `text` (nbtrack's `nbtrack.cell.hash`), or null without WebCrypto. */
export async function cellHash(text: string): Promise<string | null> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) {
    return null; // not a secure context (plain http to another host)
  }
  const digest = await subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest))
    .map(b => b.toString(16).padStart(2, '0'))
    .join('')
    .slice(0, 16);
}

export interface ICellInfo {
  source: string;
  executionCount: number | null;
}

/**
 * Index of the cell a run came from, or -1 when it is no longer there.
 *
 * A `%%track` run records the SHA-256 of the cell's body (the text after the magic line)
 * and the execution count. The cell whose body still hashes the same wins; without
 * WebCrypto, a cell that still shows the execution count does.
 */
export async function findRunCell(
  cells: ICellInfo[],
  hash: string | undefined,
  executionCount: string | undefined
): Promise<number> {
  if (hash) {
    for (let i = 0; i < cells.length; i++) {
      const source = cells[i].source;
      const newline = source.indexOf('\n');
      if (!source.trimStart().startsWith('%%track') || newline < 0) {
        continue;
      }
      const body = source.slice(newline + 1);
      for (const candidate of [body, body + '\n']) {
        const h = await cellHash(candidate);
        if (h === null) {
          break;
        }
        if (h === hash) {
          return i;
        }
      }
    }
  }
  const count = Number(executionCount);
  if (executionCount && Number.isInteger(count)) {
    return cells.findIndex(c => c.executionCount === count);
  }
  return -1;
}

/** A notebook path relative to the server root (tags may hold an absolute path). */
export function serverPath(path: string, serverRoot: string): string {
  if (serverRoot && path.startsWith('/')) {
    const root = serverRoot.endsWith('/') ? serverRoot : serverRoot + '/';
    if (path.startsWith(root)) {
      return path.slice(root.length);
    }
  }
  return path;
}
