/**
 * The controls that make the sidebar's runs query: the experiment and sort-order selects,
 * the filter box, and the filter error shown under it.
 */
import { SORT_ORDERS } from './logic';
import { ApiError, IExperiment } from './request';
import { h } from './dom';

/** The experiment select (filled by `fillExperiments`). */
export function experimentSelect(): HTMLSelectElement {
  const select = h('select', 'nbtl-experiment-select');
  select.title = 'Experiment';
  return select;
}

/** The sort-order select, one option per `SORT_ORDERS` label. */
export function sortSelect(): HTMLSelectElement {
  const select = h('select', 'nbtl-sort-select');
  select.title = 'Sort order';
  for (const label of Object.keys(SORT_ORDERS)) {
    const option = h('option', '', label);
    option.value = label;
    select.appendChild(option);
  }
  return select;
}

/** The filter box (filter grammar, as in `nbtrack.search_runs`). */
export function filterInput(): HTMLInputElement {
  const input = h('input', 'nbtl-filter jp-mod-styled');
  input.type = 'search';
  input.placeholder = 'filter: metrics.loss < 0.5 AND params.lr = 0.01';
  input.spellcheck = false;
  return input;
}

/**
 * Put "All experiments (total)" and one option per experiment (with its run count) into
 * `select`, keeping the chosen experiment when it still exists.
 */
export function fillExperiments(select: HTMLSelectElement, experiments: IExperiment[]): void {
  const current = select.value;
  select.textContent = '';
  const total = experiments.reduce((n, e) => n + e.run_count, 0);
  const all = h('option', '', `All experiments (${total})`);
  all.value = '';
  select.appendChild(all);
  for (const e of experiments) {
    const option = h('option', '', `${e.name} (${e.run_count})`);
    option.value = e.name;
    select.appendChild(option);
  }
  select.value = experiments.some(e => e.name === current) ? current : '';
}

/**
 * Show `error` in `box`: a filter error's first line with a caret under the position in
 * `filterText`, any other error's message. Returns whether it was a filter error.
 */
export function showQueryError(box: HTMLElement, error: unknown, filterText: string): boolean {
  box.textContent = '';
  if (error instanceof ApiError && error.type === 'FilterError') {
    box.appendChild(h('div', 'nbtl-error-message', error.message.split('\n')[0]));
    if (error.position !== null) {
      const pointer = h('pre', 'nbtl-error-pointer');
      pointer.textContent = `${filterText}\n${' '.repeat(error.position)}^`;
      box.appendChild(pointer);
    }
    return true;
  }
  box.appendChild(
    h('div', 'nbtl-error-message', error instanceof Error ? error.message : String(error))
  );
  return false;
}
