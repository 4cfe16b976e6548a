/**
 * The compare panel: 2–N runs side by side — overlaid metric curves (downsampled by the
 * server), the params that differ, and parallel coordinates for sweeps.
 */
import { Widget } from '@lumino/widgets';

import { ISeries } from './charts';
import { metricKeys, metricNumber, paramsTable, parallelDimensions } from './logic';
import { IRunRecord, NbtrackApi } from './request';
import { lineChartSvg, parallelSvg } from './svg';
import { colorDot, h, loadError, statusChip } from './dom';

const MAX_CHARTS = 12;
const POINTS_PER_SERIES = 600;

export class ComparePanel extends Widget {
  constructor(
    readonly runIds: string[],
    private api: NbtrackApi
  ) {
    super();
    this.addClass('nbtl-compare-panel');
    this.id = `nbtrack-compare-${Date.now()}`;
    this.title.label = `Compare ${runIds.length} runs`;
    this.title.closable = true;
    this.node.appendChild(h('p', 'nbtl-empty', 'Loading…'));
    void this.load();
  }

  async load(): Promise<void> {
    let runs: IRunRecord[];
    try {
      runs = await Promise.all(this.runIds.map(id => this.api.run(id)));
    } catch (error) {
      this.node.replaceChildren(loadError(error));
      return;
    }
    const root = h('div', 'nbtl-compare-body');
    root.appendChild(this.legend(runs));

    root.appendChild(h('h3', '', 'Metrics'));
    const charts = h('div', 'nbtl-charts');
    root.appendChild(charts);
    const keys = metricKeys(runs).slice(0, MAX_CHARTS);
    if (!keys.length) {
      charts.appendChild(h('p', 'nbtl-empty', 'These runs logged no metrics.'));
    }

    root.appendChild(h('h3', '', 'Params'));
    root.appendChild(this.paramsDiff(runs));

    const dims = parallelDimensions(runs);
    if (dims.length >= 2) {
      root.appendChild(h('h3', '', 'Parallel coordinates'));
      const axes = dims.map(d => ({
        label: `${d.kind === 'params' ? '' : 'metrics.'}${d.key}`,
        values: runs.map(r =>
          d.kind === 'params' ? Number(r.params[d.key] ?? NaN) : metricNumber(r.metrics[d.key])
        )
      }));
      const wrap = h('div', 'nbtl-chart-wrap nbtl-parallel-wrap');
      wrap.appendChild(
        parallelSvg(
          axes,
          runs.map(r => ({ id: r.run_id, color: r.color, label: r.name }))
        )
      );
      root.appendChild(wrap);
    }
    this.node.replaceChildren(root);

    // Curves load after the page is drawn, one chart per key.
    await Promise.all(
      keys.map(async key => {
        const wrap = h('div', 'nbtl-chart-wrap');
        wrap.dataset.metric = key;
        charts.appendChild(wrap);
        const histories = await Promise.all(
          runs.map(r =>
            r.metrics[key] === undefined
              ? Promise.resolve(null)
              : this.api.history(r.run_id, key, POINTS_PER_SERIES).catch(() => null)
          )
        );
        const series: ISeries[] = [];
        histories.forEach((history, i) => {
          if (history) {
            series.push({
              id: runs[i].run_id,
              color: runs[i].color,
              label: runs[i].name,
              points: history.points.map(p => ({ x: p.step, y: metricNumber(p.value) }))
            });
          }
        });
        wrap.appendChild(lineChartSvg(key, series));
      })
    );
    this.node.classList.add('nbtl-loaded');
  }

  private legend(runs: IRunRecord[]): HTMLElement {
    const legend = h('div', 'nbtl-legend');
    for (const run of runs) {
      const item = h('span', 'nbtl-legend-item');
      const dot = colorDot(run.color);
      item.append(dot, `${run.name} `, statusChip(run.status));
      legend.appendChild(item);
    }
    return legend;
  }

  private paramsDiff(runs: IRunRecord[]): HTMLElement {
    const rows = paramsTable(runs);
    const box = h('div', 'nbtl-params-diff');
    const toggle = h('label', 'nbtl-toggle');
    const check = h('input');
    check.type = 'checkbox';
    toggle.append(check, ' show params that are the same in every run');
    const t = h('table', 'nbtl-diff');
    const head = h('tr');
    head.appendChild(h('th', '', 'param'));
    for (const run of runs) {
      const th = h('th');
      const dot = colorDot(run.color);
      th.append(dot, run.name);
      head.appendChild(th);
    }
    t.appendChild(head);
    const draw = () => {
      t.querySelectorAll('tr.nbtl-diff-row').forEach(r => r.remove());
      const shown = rows.filter(r => r.differs || check.checked);
      for (const row of shown) {
        const tr = h('tr', `nbtl-diff-row${row.differs ? ' nbtl-differs' : ''}`);
        tr.appendChild(h('th', '', row.key));
        row.values.forEach(v => tr.appendChild(h('td', '', v ?? '—')));
        t.appendChild(tr);
      }
      if (!shown.length) {
        const tr = h('tr', 'nbtl-diff-row');
        const td = h('td', 'nbtl-empty', rows.length ? 'Every param is the same.' : 'No params.');
        td.colSpan = runs.length + 1;
        tr.appendChild(td);
        t.appendChild(tr);
      }
    };
    check.addEventListener('change', draw);
    draw();
    box.append(toggle, t);
    return box;
  }
}
