/**
 * The run panel (a main-area tab): attributes, params, metrics with sparklines, editable
 * tags, artifacts with preview and download, and the notebook the run came from.
 */
import { Notification } from '@jupyterlab/apputils';
import { ICodeCellModel } from '@jupyterlab/cells';
import { PageConfig } from '@jupyterlab/coreutils';
import { Notebook, NotebookPanel } from '@jupyterlab/notebook';
import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';

import { findRunCell, formatDuration, formatNumber, metricNumber, serverPath } from './logic';
import { ApiError, IArtifact, IRunRecord, NbtrackApi } from './request';
import { sparklineSvg } from './svg';
import { colorDot, h, loadError, statusChip } from './dom';

function table(rows: [string, Node | string][], className = 'nbtl-kv'): HTMLTableElement {
  const t = h('table', className);
  for (const [key, value] of rows) {
    const tr = h('tr');
    tr.appendChild(h('th', '', key));
    const td = h('td');
    td.append(value);
    tr.appendChild(td);
    t.appendChild(tr);
  }
  return t;
}

const TEXT_TYPES = /^(text\/|application\/(json|xml|javascript))/;
const PREVIEW_LIMIT = 200_000;

export class RunPanel extends Widget {
  constructor(
    readonly runId: string,
    private api: NbtrackApi,
    private commands: CommandRegistry
  ) {
    super();
    this.addClass('nbtl-run-panel');
    this.id = `nbtrack-run-${runId}`;
    this.title.label = runId.slice(0, 8);
    this.title.closable = true;
    void this.load();
  }

  /** Reload the run from the server and redraw. */
  async load(): Promise<void> {
    try {
      this.run = await this.api.run(this.runId);
    } catch (error) {
      this.node.replaceChildren(loadError(error));
      return;
    }
    this.render();
    window.clearTimeout(this.timer);
    if (this.run.status === 'RUNNING' && !this.isDisposed) {
      this.timer = window.setTimeout(() => void this.load(), 2000);
    }
  }

  dispose(): void {
    window.clearTimeout(this.timer);
    super.dispose();
  }

  private render(): void {
    const run = this.run!;
    this.title.label = run.name;
    this.title.caption = `${run.name} (${run.run_id})`;
    const root = h('div', 'nbtl-run-body');

    const head = h('div', 'nbtl-run-head');
    const dot = colorDot(run.color);
    head.append(dot, h('h2', 'nbtl-run-name', run.name));
    head.appendChild(statusChip(run.status));
    const actions = h('div', 'nbtl-actions');
    const button = (label: string, command: string) => {
      const b = h('button', 'jp-mod-styled nbtl-action', label);
      b.addEventListener('click', () => void this.commands.execute(command, { runId: run.run_id }));
      actions.appendChild(b);
    };
    button('Insert code', 'nbtrack:insert-code');
    button('Copy id', 'nbtrack:copy-run-id');
    button('Rename', 'nbtrack:rename-run');
    button('Delete', 'nbtrack:delete-run');
    head.appendChild(actions);
    root.appendChild(head);

    root.appendChild(h('h3', '', 'Attributes'));
    const notebook = run.tags['nbtrack.notebook'];
    const attrs: [string, Node | string][] = [
      ['run id', run.run_id],
      ['experiment', run.experiment],
      ['status', run.status],
      ['started', new Date(run.start_time).toLocaleString()],
      ['ended', run.end_time ? new Date(run.end_time).toLocaleString() : ''],
      ['duration', formatDuration(run.duration_s)]
    ];
    if (run.parent_run_id) {
      attrs.push(['parent run', run.parent_run_id]);
    }
    if (run.description) {
      attrs.push(['description', run.description]);
    }
    if (notebook) {
      const link = h('a', 'nbtl-notebook-link', notebook);
      link.href = '#';
      link.addEventListener('click', event => {
        event.preventDefault();
        void this.openNotebook(notebook, run);
      });
      const count = run.tags['nbtrack.cell.execution_count'];
      const cell = h('span', '');
      cell.append(link, count ? ` (cell [${count}])` : '');
      attrs.push(['notebook', cell]);
    }
    root.appendChild(table(attrs));

    root.appendChild(h('h3', '', 'Params'));
    const params = Object.entries(run.params);
    root.appendChild(
      params.length ? table(params, 'nbtl-kv nbtl-params') : h('p', 'nbtl-empty', 'No params.')
    );

    root.appendChild(h('h3', '', 'Metrics'));
    root.appendChild(this.metricsTable(run));

    root.appendChild(h('h3', '', 'Tags'));
    root.appendChild(this.tagsEditor(run));

    root.appendChild(h('h3', '', 'Artifacts'));
    root.appendChild(this.artifactsList(run.artifacts ?? []));

    this.node.replaceChildren(root);
  }

  /** Open the run's notebook and select the `%%track` cell it came from, if still there. */
  private async openNotebook(path: string, run: IRunRecord): Promise<void> {
    const relative = serverPath(path, PageConfig.getOption('serverRoot'));
    const widget = (await this.commands.execute('docmanager:open', { path: relative })) as
      NotebookPanel | undefined;
    if (!widget || !(widget.content instanceof Notebook)) {
      return;
    }
    await widget.context.ready;
    const notebook = widget.content;
    const cells = notebook.widgets.map(cell => ({
      source: cell.model.sharedModel.getSource(),
      executionCount:
        cell.model.type === 'code' ? (cell.model as ICodeCellModel).executionCount : null
    }));
    const index = await findRunCell(
      cells,
      run.tags['nbtrack.cell.hash'],
      run.tags['nbtrack.cell.execution_count']
    );
    if (index >= 0) {
      notebook.activeCellIndex = index;
      await notebook.scrollToItem(index);
    } else {
      Notification.info(`The cell of run ${run.name} is no longer in ${relative}.`, {
        autoClose: 4000
      });
    }
  }

  private metricsTable(run: IRunRecord): HTMLElement {
    const keys = Object.keys(run.metrics).sort();
    if (!keys.length) {
      return h('p', 'nbtl-empty', 'No metrics.');
    }
    const t = h('table', 'nbtl-metrics');
    const head = h('tr');
    ['metric', 'latest', 'history', 'points'].forEach(label =>
      head.appendChild(h('th', '', label))
    );
    t.appendChild(head);
    for (const key of keys) {
      const tr = h('tr');
      tr.dataset.metric = key;
      tr.appendChild(h('td', 'nbtl-metric-key', key));
      tr.appendChild(h('td', 'nbtl-num', formatNumber(metricNumber(run.metrics[key]))));
      const spark = h('td', 'nbtl-spark');
      const count = h('td', 'nbtl-num');
      tr.append(spark, count);
      t.appendChild(tr);
      if (keys.indexOf(key) < 40) {
        void this.api
          .history(run.run_id, key, 120)
          .then(history => {
            spark.appendChild(
              sparklineSvg(
                history.points.map(p => metricNumber(p.value)),
                run.color
              )
            );
            count.textContent = String(history.total_points);
          })
          .catch(() => undefined);
      }
    }
    return t;
  }

  private tagsEditor(run: IRunRecord): HTMLElement {
    const box = h('div', 'nbtl-tags-editor');
    const chips = h('div', 'nbtl-tag-chips');
    for (const [key, value] of Object.entries(run.tags).sort()) {
      const chip = h('span', 'nbtl-chip nbtl-tag');
      chip.dataset.tag = key;
      chip.append(`${key}: ${value}`);
      const remove = h('button', 'nbtl-chip-remove', '×');
      remove.title = `Delete tag ${key}`;
      remove.addEventListener('click', () => void this.editTags({ [key]: null }));
      chip.appendChild(remove);
      chips.appendChild(chip);
    }
    const form = h('form', 'nbtl-tag-form');
    const key = h('input', 'jp-mod-styled nbtl-tag-key');
    key.placeholder = 'tag';
    const value = h('input', 'jp-mod-styled nbtl-tag-value');
    value.placeholder = 'value';
    const add = h('button', 'jp-mod-styled jp-mod-accept nbtl-tag-add', 'Set tag');
    add.type = 'submit';
    form.append(key, value, add);
    form.addEventListener('submit', event => {
      event.preventDefault();
      void this.editTags({ [key.value.trim()]: value.value });
    });
    this.tagError = h('div', 'nbtl-error-message nbtl-tag-error');
    this.tagError.hidden = true;
    box.append(chips, form, this.tagError);
    return box;
  }

  private async editTags(tags: Record<string, string | null>): Promise<void> {
    try {
      this.run = await this.api.patchRun(this.runId, { tags });
      this.render();
      void this.commands.execute('nbtrack:refresh');
    } catch (error) {
      if (this.tagError) {
        this.tagError.textContent = error instanceof ApiError ? error.message : String(error);
        this.tagError.hidden = false;
      }
    }
  }

  private artifactsList(artifacts: IArtifact[]): HTMLElement {
    if (!artifacts.length) {
      return h('p', 'nbtl-empty', 'No artifacts.');
    }
    const list = h('div', 'nbtl-artifacts');
    const preview = h('div', 'nbtl-artifact-preview');
    for (const artifact of artifacts) {
      const row = h('div', 'nbtl-artifact');
      row.appendChild(h('span', 'nbtl-artifact-path', artifact.path));
      row.appendChild(h('span', 'nbtl-artifact-size', `${artifact.size} B`));
      const show = h('button', 'jp-mod-styled', 'Preview');
      show.addEventListener('click', () => void this.preview(artifact, preview));
      const get = h('button', 'jp-mod-styled', 'Download');
      get.addEventListener('click', () => void this.download(artifact));
      row.append(show, get);
      list.appendChild(row);
    }
    list.appendChild(preview);
    return list;
  }

  private async preview(artifact: IArtifact, into: HTMLElement): Promise<void> {
    const blob = await this.api.artifact(this.runId, artifact.path);
    into.textContent = '';
    if (blob.type.startsWith('image/') && !blob.type.includes('svg')) {
      const img = h('img', 'nbtl-artifact-image');
      img.src = URL.createObjectURL(blob);
      img.alt = artifact.path;
      into.appendChild(img);
    } else if (TEXT_TYPES.test(blob.type) || blob.size < PREVIEW_LIMIT) {
      let text = await blob.slice(0, PREVIEW_LIMIT).text();
      if (blob.type.startsWith('application/json')) {
        try {
          text = JSON.stringify(JSON.parse(text), null, 2);
        } catch {
          // not JSON after all: show it as it is
        }
      }
      into.appendChild(h('pre', 'nbtl-artifact-text', text));
    } else {
      into.appendChild(
        h(
          'p',
          'nbtl-empty',
          `${artifact.path}: ${blob.type}, ${blob.size} bytes (download it to open)`
        )
      );
    }
  }

  private async download(artifact: IArtifact): Promise<void> {
    const blob = await this.api.artifact(this.runId, artifact.path);
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = artifact.path.split('/').pop() ?? 'artifact';
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  private run: IRunRecord | null = null;
  private timer = 0;
  private tagError: HTMLElement | null = null;
}
