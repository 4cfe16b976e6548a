/**
 * The "Models" section of the nbtrack sidebar: registered models with their latest version
 * and aliases, kept live by polling `GET models` with its ETag. It collapses to its header;
 * a collapsed (or hidden) section does not poll.
 */
import { CommandRegistry } from '@lumino/commands';

import { aliasLabels, modelCount } from './modelLogic';
import { Poller } from './poller';
import { IModelPage, IRegisteredModel, NbtrackApi } from './request';
import { h } from './dom';

/** Models listed at most (the registry of a team; more are counted with a "+"). */
export const MODELS_PAGE = 200;

export const EMPTY_TEXT =
  'No registered models yet. Register one with nt.register_model("runs:/<run_id>/<model>", "<name>").';

export class ModelsSection {
  readonly node: HTMLElement;

  constructor(
    private api: NbtrackApi,
    private commands: CommandRegistry,
    refreshInterval: number
  ) {
    this.node = h('section', 'nbtl-models');
    const head = h('div', 'nbtl-models-head');
    this.toggle = h('button', 'nbtl-models-toggle');
    this.toggle.type = 'button';
    this.toggle.setAttribute('aria-expanded', 'true');
    this.toggle.title = 'Show or hide the registered models';
    this.toggle.append(h('span', 'nbtl-caret'), h('span', 'nbtl-sidebar-title', 'Models'));
    this.toggle.addEventListener('click', () => this.setExpanded(!this.expanded));
    this.countLabel = h('span', 'nbtl-models-count');
    head.append(this.toggle, this.countLabel);
    this.errorBox = h('div', 'nbtl-error-message nbtl-models-error');
    this.errorBox.hidden = true;
    this.list = h('div', 'nbtl-models-list');
    this.list.addEventListener('click', event => this.onClick(event));
    this.node.append(head, this.errorBox, this.list);
    this.poller = new Poller<IModelPage>({
      interval: refreshInterval,
      fetch: () => this.fetch(),
      onChange: page => this.render(page),
      onError: error => this.showError(error)
    });
  }

  get expanded(): boolean {
    return !this.node.classList.contains('nbtl-collapsed');
  }

  set refreshInterval(ms: number) {
    this.poller.interval = ms;
  }

  /** Every model loaded now (for commands that look one up by name). */
  get models(): IRegisteredModel[] {
    return this.loaded;
  }

  /** The sidebar is shown: poll while expanded. */
  start(): void {
    this.shown = true;
    if (this.expanded) {
      this.poller.start();
    }
  }

  /** The sidebar is hidden: stop polling. */
  stop(): void {
    this.shown = false;
    this.poller.stop();
  }

  /** Ask again now (the store changed, or a write happened). */
  async refresh(): Promise<void> {
    this.etag = null;
    if (this.shown && this.expanded) {
      await this.poller.refresh();
    }
  }

  setExpanded(expanded: boolean): void {
    this.node.classList.toggle('nbtl-collapsed', !expanded);
    this.toggle.setAttribute('aria-expanded', String(expanded));
    if (expanded && this.shown) {
      this.poller.start();
    } else {
      this.poller.stop();
    }
  }

  dispose(): void {
    this.poller.stop();
  }

  private async fetch(): Promise<IModelPage | null> {
    const result = await this.api.modelsIfChanged({ maxResults: MODELS_PAGE }, this.etag);
    this.etag = result.etag;
    return result.page;
  }

  private render(page: IModelPage): void {
    this.errorBox.hidden = true;
    this.loaded = page.models;
    this.countLabel.textContent = modelCount(page.models.length, page.next_page_token !== null);
    if (!page.models.length) {
      this.list.replaceChildren(h('div', 'nbtl-empty nbtl-models-empty', EMPTY_TEXT));
      return;
    }
    this.list.replaceChildren(...page.models.map(m => this.row(m)));
  }

  private row(model: IRegisteredModel): HTMLElement {
    const row = h('div', 'nbtl-model-row');
    row.dataset.modelName = model.name;
    row.tabIndex = 0;
    row.title = model.description ? `${model.name}\n${model.description}` : model.name;
    const top = h('div', 'nbtl-row-line');
    top.appendChild(h('span', 'nbtl-name nbtl-model-name', model.name));
    const latest = model.latest_version === null ? 'no version' : `v${model.latest_version}`;
    top.appendChild(h('span', 'nbtl-chip nbtl-model-latest', latest));
    const sub = h('div', 'nbtl-row-line nbtl-row-sub nbtl-model-aliases');
    for (const label of aliasLabels(model.aliases)) {
      sub.appendChild(h('span', 'nbtl-chip nbtl-alias', label));
    }
    row.append(top, sub);
    row.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        void this.commands.execute('nbtrack:open-model', { name: model.name });
      }
    });
    return row;
  }

  private onClick(event: MouseEvent): void {
    const row = (event.target as HTMLElement).closest('.nbtl-model-row') as HTMLElement | null;
    const name = row?.dataset.modelName;
    if (name) {
      this.current = name;
      void this.commands.execute('nbtrack:open-model', { name });
    }
  }

  private showError(error: unknown): void {
    this.errorBox.textContent = error instanceof Error ? error.message : String(error);
    this.errorBox.hidden = false;
  }

  /** The model last clicked (commands without a name use it). */
  current: string | null = null;

  private poller: Poller<IModelPage>;
  private etag: string | null = null;
  private shown = false;
  private loaded: IRegisteredModel[] = [];
  private toggle: HTMLButtonElement;
  private countLabel: HTMLSpanElement;
  private errorBox: HTMLDivElement;
  private list: HTMLDivElement;
}
