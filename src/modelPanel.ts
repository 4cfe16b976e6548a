/**
 * The model panel (a main-area tab): one registered model's description, tags and aliases,
 * and its versions with flavor, size, creation time and the run each came from (a link to
 * the run panel), each with "Insert code" to load it by alias or number.
 */
import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';

import { aliasLabels, formatBytes, formatDate, modelRef, preferredRef } from './modelLogic';
import { IModelVersion, IRegisteredModel, NbtrackApi } from './request';
import { colorDot, h, loadError } from './dom';

const COLUMNS = ['version', 'aliases', 'flavor', 'size', 'created', 'source run', ''];

export class ModelPanel extends Widget {
  constructor(
    readonly modelName: string,
    private api: NbtrackApi,
    private commands: CommandRegistry
  ) {
    super();
    this.addClass('nbtl-model-panel');
    this.id = `nbtrack-model-${modelName.replace(/[^\w-]/g, '_')}`;
    this.title.label = modelName;
    this.title.caption = `registered model ${modelName}`;
    this.title.closable = true;
    void this.load();
  }

  /** The model as last loaded (null before the first answer). */
  get model(): IRegisteredModel | null {
    return this.loaded;
  }

  /** Reload the model from the server and redraw. */
  async load(): Promise<void> {
    try {
      this.loaded = await this.api.model(this.modelName);
    } catch (error) {
      this.node.replaceChildren(loadError(error));
      return;
    }
    this.render(this.loaded);
  }

  private render(model: IRegisteredModel): void {
    const root = h('div', 'nbtl-run-body nbtl-model-body');
    const head = h('div', 'nbtl-run-head');
    head.appendChild(h('h2', 'nbtl-run-name nbtl-model-title', model.name));
    const actions = h('div', 'nbtl-actions');
    const ref = modelRef(model);
    if (ref) {
      const insert = h('button', 'jp-mod-styled nbtl-action nbtl-model-insert', 'Insert code');
      insert.title = 'Insert code that loads this model into the current notebook';
      insert.addEventListener('click', () => this.insert(model.name, ref));
      actions.appendChild(insert);
    }
    const reload = h('button', 'jp-mod-styled nbtl-action', 'Reload');
    reload.addEventListener('click', () => void this.load());
    actions.appendChild(reload);
    head.appendChild(actions);
    root.appendChild(head);

    const attrs = h('table', 'nbtl-kv');
    const row = (key: string, value: Node | string) => {
      const tr = h('tr');
      tr.appendChild(h('th', '', key));
      const td = h('td');
      td.append(value);
      tr.appendChild(td);
      attrs.appendChild(tr);
    };
    if (model.description) {
      row('description', model.description);
    }
    row('latest version', model.latest_version === null ? 'none' : `v${model.latest_version}`);
    const aliases = h('span', 'nbtl-model-aliases');
    for (const label of aliasLabels(model.aliases)) {
      aliases.appendChild(h('span', 'nbtl-chip nbtl-alias', label));
    }
    row('aliases', aliases);
    const tags = h('span', 'nbtl-tag-chips');
    for (const [k, v] of Object.entries(model.tags).sort()) {
      tags.appendChild(h('span', 'nbtl-chip nbtl-tag', `${k}: ${v}`));
    }
    if (Object.keys(model.tags).length) {
      row('tags', tags);
    }
    row('created', formatDate(model.creation_time));
    row('updated', formatDate(model.last_updated_time));
    root.appendChild(attrs);

    root.appendChild(h('h3', '', 'Versions'));
    const versions = model.versions ?? [];
    root.appendChild(
      versions.length ? this.versionsTable(versions) : h('p', 'nbtl-empty', 'No versions.')
    );
    this.node.replaceChildren(root);
  }

  private versionsTable(versions: IModelVersion[]): HTMLTableElement {
    const t = h('table', 'nbtl-metrics nbtl-versions');
    const head = h('tr');
    COLUMNS.forEach(label => head.appendChild(h('th', '', label)));
    t.appendChild(head);
    for (const v of versions) {
      const tr = h('tr', 'nbtl-version-row');
      tr.dataset.version = String(v.version);
      tr.title = [v.description, v.source, v.sha256 ? `sha256 ${v.sha256}` : '']
        .filter(Boolean)
        .join('\n');
      tr.appendChild(h('td', 'nbtl-num', `v${v.version}`));
      const aliases = h('td', 'nbtl-version-aliases');
      for (const alias of [...v.aliases].sort()) {
        aliases.appendChild(h('span', 'nbtl-chip nbtl-alias', `@${alias}`));
      }
      tr.appendChild(aliases);
      tr.appendChild(h('td', 'nbtl-version-flavor', v.flavor ?? '?'));
      tr.appendChild(h('td', 'nbtl-num', formatBytes(v.size)));
      tr.appendChild(h('td', '', formatDate(v.creation_time)));
      tr.appendChild(this.runCell(v));
      const insert = h('button', 'jp-mod-styled nbtl-version-insert', 'Insert code');
      insert.title = 'Insert code that loads this version into the current notebook';
      insert.addEventListener('click', () => this.insert(v.name, preferredRef(v)));
      const cell = h('td');
      cell.appendChild(insert);
      tr.appendChild(cell);
      t.appendChild(tr);
    }
    return t;
  }

  private runCell(v: IModelVersion): HTMLTableCellElement {
    const td = h('td', 'nbtl-version-run');
    if (!v.run) {
      td.textContent = `${v.run_id.slice(0, 8)} (deleted run)`;
      return td;
    }
    const runId = v.run.run_id;
    const link = h('a', 'nbtl-run-link', `${v.run.name} / ${v.model_name}`);
    link.href = '#';
    link.dataset.runId = runId;
    link.title = `${v.run.experiment} · ${v.run.status}\n${runId}`;
    link.addEventListener('click', event => {
      event.preventDefault();
      void this.commands.execute('nbtrack:open-run', { runId });
    });
    td.append(colorDot(v.run.color), link);
    return td;
  }

  private insert(name: string, ref: ReturnType<typeof preferredRef>): void {
    void this.commands.execute('nbtrack:insert-model-code', { name, ...ref });
  }

  private loaded: IRegisteredModel | null = null;
}
