/**
 * The main-area panels the extension opens, one per key (a run's id, a model's name): a
 * second "open" reloads and reveals the panel already open instead of adding another.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

/** A panel's content: it can reload what it shows. */
export interface IReloadable extends Widget {
  load(): Promise<void>;
}

/**
 * Reveal the panel open for `key` (reloading it), or add one made by `create` to the main
 * area; `panels` remembers the open ones.
 */
export function showPanel<T extends IReloadable>(
  shell: JupyterFrontEnd.IShell,
  panels: Map<string, MainAreaWidget<T>>,
  key: string,
  create: () => MainAreaWidget<T>
): MainAreaWidget<T> {
  let widget = panels.get(key);
  if (!widget || widget.isDisposed) {
    widget = create();
    panels.set(key, widget);
    shell.add(widget, 'main');
  } else {
    void widget.content.load();
  }
  shell.activateById(widget.id);
  return widget;
}
