/**
 * The nbtrack sidebar: experiments, a filter box, a sort order and a virtualized list of
 * runs that stays live by polling `GET runs` with its ETag; below them the collapsible
 * "Models" section (modelsSection.ts).
 */
import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';

import { mergePolled, SORT_ORDERS, visibleRange } from './logic';
import { Poller } from './poller';
import { IExperiment, IRunPage, IRunRecord, NbtrackApi } from './request';
import { ModelsSection } from './modelsSection';
import { h } from './dom';
import {
  experimentSelect,
  fillExperiments,
  filterInput,
  showQueryError,
  sortSelect
} from './queryControls';
import { ROW_HEIGHT, runRow } from './runRow';

export { ROW_HEIGHT } from './runRow';

export interface ISidebarOptions {
  api: NbtrackApi;
  commands: CommandRegistry;
  refreshInterval: number;
  pageSize: number;
}

/** A polled page and the query generation it answers (older ones are dropped). */
interface IPolled {
  page: IRunPage;
  generation: number;
}

export class RunsSidebar extends Widget {
  constructor(private options: ISidebarOptions) {
    super();
    this.id = 'nbtrack-runs';
    this.addClass('nbtl-sidebar');
    this.title.caption = 'nbtrack runs';
    this.pageSize = options.pageSize;
    this.modelsSection = new ModelsSection(options.api, options.commands, options.refreshInterval);
    this.build();
    this.poller = new Poller<IPolled>({
      interval: options.refreshInterval,
      fetch: () => this.fetchRuns(),
      onChange: polled => this.setRuns(polled),
      onError: error => this.showError(error)
    });
  }

  /** Ids of the runs ticked for comparison, in the order they were ticked. */
  get selection(): string[] {
    return [...this.selected];
  }

  /** Every run loaded now (for commands that look up a run by id). */
  get runs(): IRunRecord[] {
    return this.loaded;
  }

  set refreshInterval(ms: number) {
    this.poller.interval = ms;
    this.modelsSection.refreshInterval = ms;
  }

  set pageSizeSetting(n: number) {
    this.pageSize = n;
  }

  /** The "store" setting changed: forget the runs and the selection, ask again. */
  storeChanged(): void {
    this.selected.clear();
    this.queryChanged();
    void this.loadExperiments();
    void this.modelsSection.refresh();
  }

  /** Ask the server now (after a write), then keep polling. */
  async refresh(): Promise<void> {
    await this.poller.refresh();
    await this.loadExperiments();
    await this.modelsSection.refresh();
  }

  // Poll only while the sidebar is shown: a collapsed sidebar costs the server nothing.
  protected onAfterAttach(): void {
    if (this.isVisible) {
      this.poller.start();
      this.modelsSection.start();
      void this.loadExperiments();
    }
  }

  protected onBeforeDetach(): void {
    this.poller.stop();
    this.modelsSection.stop();
  }

  protected onAfterShow(): void {
    this.poller.start();
    this.modelsSection.start();
    void this.loadExperiments();
    this.renderRows(true);
  }

  protected onAfterHide(): void {
    this.poller.stop();
    this.modelsSection.stop();
  }

  protected onResize(): void {
    this.renderRows();
  }

  dispose(): void {
    this.poller.stop();
    this.modelsSection.dispose();
    super.dispose();
  }

  // ---- building the DOM -------------------------------------------------------------
  private build(): void {
    const head = h('div', 'nbtl-sidebar-head');
    head.appendChild(h('div', 'nbtl-sidebar-title', 'Runs'));
    this.experimentSelect = experimentSelect();
    this.experimentSelect.addEventListener('change', () => this.queryChanged());
    this.sortSelect = sortSelect();
    this.sortSelect.addEventListener('change', () => this.queryChanged());
    const selects = h('div', 'nbtl-sidebar-selects');
    selects.append(this.experimentSelect, this.sortSelect);

    this.filterInput = filterInput();
    this.filterInput.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        this.applyFilter();
      }
    });
    this.filterInput.addEventListener('input', () => {
      window.clearTimeout(this.filterTimer);
      this.filterTimer = window.setTimeout(() => this.applyFilter(), 600);
    });
    this.errorBox = h('div', 'nbtl-filter-error');
    this.errorBox.hidden = true;

    this.list = h('div', 'nbtl-list');
    this.spacer = h('div', 'nbtl-list-spacer');
    this.list.appendChild(this.spacer);
    this.list.addEventListener('scroll', () => {
      this.renderRows();
      this.maybeLoadMore();
    });
    this.list.addEventListener('click', event => this.onListClick(event));

    const foot = h('div', 'nbtl-sidebar-foot');
    this.countLabel = h('span', 'nbtl-count');
    this.compareButton = h('button', 'jp-mod-styled jp-mod-accept nbtl-compare-button', 'Compare');
    this.compareButton.disabled = true;
    this.compareButton.addEventListener('click', () => {
      void this.options.commands.execute('nbtrack:compare', { runIds: this.selection });
    });
    foot.append(this.countLabel, this.compareButton);

    this.node.append(
      head,
      selects,
      this.filterInput,
      this.errorBox,
      this.list,
      foot,
      this.modelsSection.node
    );
  }

  // ---- data -------------------------------------------------------------------------
  private query() {
    const experiment = this.experimentSelect.value;
    return {
      filter: this.filterText,
      orderBy: SORT_ORDERS[this.sortSelect.value] ?? SORT_ORDERS['Newest first'],
      experiments: experiment ? [experiment] : []
    };
  }

  private async fetchRuns(): Promise<IPolled | null> {
    const generation = this.generation;
    // Poll what is loaded (at least one page) so that new runs and status changes show.
    // When every run is loaded, ask for a page more, so new and restored runs fit.
    const wanted = this.nextToken ? this.loaded.length : this.loaded.length + this.pageSize;
    const maxResults = Math.min(10000, Math.max(this.pageSize, wanted));
    const result = await this.options.api.runsIfChanged({ ...this.query(), maxResults }, this.etag);
    if (generation !== this.generation) {
      return null; // asked before the query changed: a poll of the new query follows
    }
    this.etag = result.etag;
    return result.page && { page: result.page, generation };
  }

  private setRuns({ page, generation }: IPolled): void {
    if (generation !== this.generation) {
      return;
    }
    // After a new filter, sort or experiment the list starts over; a poll of the same
    // query keeps the pages loaded beyond the 10,000 runs it covers.
    const hasMore = page.next_page_token !== null && !this.queryIsNew;

    const beyond = hasMore && this.loaded.length > page.runs.length;
    this.loaded = mergePolled(this.loaded, page.runs, hasMore);
    this.queryIsNew = false;
    if (!beyond) {
      this.nextToken = page.next_page_token;
    }
    this.clearError();
    const known = new Set(this.loaded.map(r => r.run_id));
    for (const id of [...this.selected]) {
      if (!known.has(id)) {
        this.selected.delete(id);
      }
    }
    this.renderRows(true);
    this.updateFoot();
    if (this.loadedExperiments !== this.loaded.length) {
      this.loadedExperiments = this.loaded.length;
      void this.loadExperiments();
    }
  }

  private async maybeLoadMore(): Promise<void> {
    if (!this.nextToken || this.loadingMore) {
      return;
    }
    const { end } = visibleRange(
      this.list.scrollTop,
      this.list.clientHeight,
      ROW_HEIGHT,
      this.loaded.length,
      0
    );
    if (end < this.loaded.length - 20) {
      return;
    }
    this.loadingMore = true;
    const generation = this.generation;
    try {
      const page = await this.options.api.runs({
        ...this.query(),
        maxResults: this.pageSize,
        pageToken: this.nextToken
      });
      if (generation !== this.generation) {
        return;
      }
      this.loaded = [...this.loaded, ...page.runs];
      this.nextToken = page.next_page_token;
      this.etag = null; // the next poll covers the longer list
      this.renderRows(true);
      this.updateFoot();
    } catch (error) {
      this.showError(error);
    } finally {
      this.loadingMore = false;
    }
  }

  private async loadExperiments(): Promise<void> {
    let experiments: IExperiment[];
    try {
      experiments = await this.options.api.experiments();
    } catch {
      return;
    }
    const key = JSON.stringify(experiments.map(e => [e.name, e.run_count]));
    if (key === this.experimentsKey) {
      return;
    }
    this.experimentsKey = key;
    fillExperiments(this.experimentSelect, experiments);
  }

  private applyFilter(): void {
    window.clearTimeout(this.filterTimer);
    const text = this.filterInput.value.trim();
    if (text === this.filterText) {
      return;
    }
    this.filterText = text;
    this.queryChanged();
  }

  private queryChanged(): void {
    this.generation++;
    this.queryIsNew = true;
    this.etag = null;
    this.nextToken = null;
    this.list.scrollTop = 0;
    void this.poller.refresh();
  }

  // ---- errors -----------------------------------------------------------------------
  private showError(error: unknown): void {
    const box = this.errorBox;
    if (showQueryError(box, error, this.filterText)) {
      this.filterInput.classList.add('nbtl-invalid');
    }
    box.hidden = false;
    this.list.classList.add('nbtl-stale');
  }

  private clearError(): void {
    this.filterInput.classList.remove('nbtl-invalid');
    this.errorBox.hidden = true;
    this.errorBox.textContent = '';
    this.list.classList.remove('nbtl-stale');
  }

  // ---- the virtualized list ---------------------------------------------------------
  private renderRows(force = false): void {
    if (!this.isVisible && !force) {
      return;
    }
    const count = this.loaded.length;
    this.spacer.style.height = `${count * ROW_HEIGHT}px`;
    const { start, end } = visibleRange(
      this.list.scrollTop,
      this.list.clientHeight || 600,
      ROW_HEIGHT,
      count
    );
    if (!force && start === this.rendered.start && end === this.rendered.end) {
      return;
    }
    this.rendered = { start, end };
    const rows: HTMLElement[] = [];
    const now = Date.now();
    for (let i = start; i < end; i++) {
      const run = this.loaded[i];
      rows.push(runRow(run, i, now, this.selected.has(run.run_id)));
    }
    this.spacer.replaceChildren(...rows);
  }

  private onListClick(event: MouseEvent): void {
    const target = event.target as HTMLElement;
    const row = target.closest('.nbtl-run-row') as HTMLElement | null;
    const runId = row?.dataset.runId;
    if (!row || !runId) {
      return;
    }
    if (target.classList.contains('nbtl-select')) {
      if ((target as HTMLInputElement).checked) {
        this.selected.add(runId);
      } else {
        this.selected.delete(runId);
      }
      row.classList.toggle('nbtl-selected', this.selected.has(runId));
      this.updateFoot();
      return;
    }
    this.current = runId;
    void this.options.commands.execute('nbtrack:open-run', { runId });
  }

  /** The "Models" section below the runs. */
  readonly modelsSection: ModelsSection;

  /** The run last clicked (commands without a run id use it). */
  current: string | null = null;

  private updateFoot(): void {
    const more = this.nextToken ? '+' : '';
    const sel = this.selected.size;
    const n = this.loaded.length;
    const runs = n === 1 && !more ? 'run' : 'runs';
    this.countLabel.textContent = `${n}${more} ${runs}${sel ? ` · ${sel} selected` : ''}`;
    this.compareButton.disabled = sel < 2;
  }

  private poller: Poller<IPolled>;
  private generation = 0;
  private pageSize: number;
  private loaded: IRunRecord[] = [];
  private nextToken: string | null = null;
  private etag: string | null = null;
  private filterText = '';
  private filterTimer = 0;
  private loadingMore = false;
  private queryIsNew = true;
  private loadedExperiments = -1;
  private experimentsKey = '';
  private selected = new Set<string>();
  private rendered = { start: -1, end: -1 };
  private experimentSelect!: HTMLSelectElement;
  private sortSelect!: HTMLSelectElement;
  private filterInput!: HTMLInputElement;
  private errorBox!: HTMLDivElement;
  private list!: HTMLDivElement;
  private spacer!: HTMLDivElement;
  private countLabel!: HTMLSpanElement;
  private compareButton!: HTMLButtonElement;
}
