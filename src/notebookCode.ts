/**
 * "Insert code": put a snippet in a new cell below the active one of the current notebook,
 * or copy it when no notebook is open.
 */
import { ILabShell, JupyterFrontEnd } from '@jupyterlab/application';
import { Clipboard, Notification } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';

/** Insert `code` below the current notebook's active cell (or copy it); `what` names it. */
export function insertCode(
  code: string,
  what: string,
  notebooks: INotebookTracker | null,
  shell: JupyterFrontEnd.IShell | ILabShell
): void {
  const panel = notebooks?.currentWidget;
  if (!panel) {
    Clipboard.copyToSystem(code);
    Notification.info(`No notebook is open: the code to load ${what} was copied instead.`);
    return;
  }
  NotebookActions.insertBelow(panel.content);
  const cell = panel.content.activeCell;
  cell?.model.sharedModel.setSource(code);
  shell.activateById(panel.id);
}
