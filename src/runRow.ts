/**
 * One row of the sidebar's virtualized run list: a checkbox, then two lines (what the run
 * is: colour, name, status; where and when: experiment, tags, start time).
 */
import { isSystemTag, relativeTime } from './logic';
import { IRunRecord } from './request';
import { colorDot, h, statusChip } from './dom';

/** Every row is this tall, so the list can place row `i` at `i * ROW_HEIGHT`. */
export const ROW_HEIGHT = 44;

/** The row of `run`, placed at position `index`; `now` (ms) dates its start time. */
export function runRow(
  run: IRunRecord,
  index: number,
  now: number,
  selected: boolean
): HTMLElement {
  const row = h('div', 'nbtl-run-row');
  row.dataset.runId = run.run_id;
  row.style.top = `${index * ROW_HEIGHT}px`;
  row.style.height = `${ROW_HEIGHT}px`;
  row.title = `${run.name}\n${run.run_id}\n${run.experiment} · ${run.status}`;
  if (selected) {
    row.classList.add('nbtl-selected');
  }
  const box = h('input', 'nbtl-select');
  box.type = 'checkbox';
  box.checked = selected;
  box.title = 'Select for comparison';
  const dot = colorDot(run.color);
  const name = h('span', 'nbtl-name', run.name);
  const status = statusChip(run.status);
  const tags = h('span', 'nbtl-tags');
  for (const [k, v] of Object.entries(run.tags)
    .filter(([k]) => !isSystemTag(k))
    .slice(0, 2)) {
    tags.appendChild(h('span', 'nbtl-chip nbtl-tag', `${k}: ${v}`));
  }
  const time = h('span', 'nbtl-time', relativeTime(run.start_time, now));
  const experiment = h('span', 'nbtl-experiment', run.experiment);
  // Two lines: what the run is (colour, name, status), then where and when (tags, time).
  const top = h('div', 'nbtl-row-line');
  top.append(dot, name, status);
  const bottom = h('div', 'nbtl-row-line nbtl-row-sub');
  bottom.append(experiment, tags, time);
  const text = h('div', 'nbtl-row-text');
  text.append(top, bottom);
  row.append(box, text);
  return row;
}
