/**
 * nbtrack in JupyterLab: the "Runs" sidebar, run and compare panels, palette commands.
 *
 * Everything it shows comes from the REST API of the nbtrack server extension
 * (request.ts is the only module that calls it).
 */
import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Clipboard,
  Dialog,
  ICommandPalette,
  InputDialog,
  MainAreaWidget,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';

import { ComparePanel } from './comparePanel';
import { loadRunCode } from './logic';
import { addModelCommands } from './modelCommands';
import { insertCode } from './notebookCode';
import { showPanel } from './panels';
import { NbtrackApi } from './request';
import { RunPanel } from './runPanel';
import { RunsSidebar } from './sidebar';

const PLUGIN_ID = 'nbtrack:plugin';

const runsIcon = new LabIcon({
  name: 'nbtrack:runs',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<path d="M3 19h18v2H3zM5 10h3v7H5zM10.5 6h3v11h-3zM16 13h3v4h-3z"/></g></svg>'
});

namespace CommandIDs {
  export const showRuns = 'nbtrack:show-runs';
  export const openRun = 'nbtrack:open-run';
  export const compare = 'nbtrack:compare';
  export const insertCode = 'nbtrack:insert-code';
  export const copyRunId = 'nbtrack:copy-run-id';
  export const renameRun = 'nbtrack:rename-run';
  export const deleteRun = 'nbtrack:delete-run';
  export const restoreRun = 'nbtrack:restore-run';
  export const refresh = 'nbtrack:refresh';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Browse, compare and tag nbtrack runs from JupyterLab.',
  autoStart: true,
  optional: [ICommandPalette, ISettingRegistry, INotebookTracker, ILayoutRestorer, ILabShell],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    notebooks: INotebookTracker | null,
    restorer: ILayoutRestorer | null
  ) => {
    const api = new NbtrackApi(app.serviceManager.serverSettings);
    const { commands, shell } = app;
    const sidebar = new RunsSidebar({ api, commands, refreshInterval: 1000, pageSize: 500 });
    sidebar.title.icon = runsIcon;
    shell.add(sidebar, 'left', { rank: 250 });
    restorer?.add(sidebar, 'nbtrack-runs');

    // `?nbtrack-runs` in the page URL opens the sidebar (what `make demo` uses).
    void app.restored.then(() => {
      if (new URL(window.location.href).searchParams.has('nbtrack-runs')) {
        shell.activateById(sidebar.id);
      }
    });

    const openPanels = new Map<string, MainAreaWidget<RunPanel>>();
    let lastDeleted: string | null = null;

    /** The run a command acts on: its `runId` argument, else the context-menu row, else the last clicked. */
    const runIdOf = (args: any): string | null => {
      if (typeof args?.runId === 'string') {
        return args.runId;
      }
      const node = app.contextMenuHitTest(n => n.classList.contains('nbtl-run-row'));
      return node?.dataset.runId ?? sidebar.current;
    };

    commands.addCommand(CommandIDs.showRuns, {
      label: 'Show nbtrack Runs',
      execute: () => shell.activateById(sidebar.id)
    });

    commands.addCommand(CommandIDs.openRun, {
      label: 'Open nbtrack Run',
      execute: args => {
        const runId = runIdOf(args);
        if (!runId) {
          return;
        }
        showPanel(shell, openPanels, runId, () => {
          const widget = new MainAreaWidget({ content: new RunPanel(runId, api, commands) });
          widget.id = `nbtrack-run-${runId}`;
          widget.title.label = runId.slice(0, 8);
          widget.title.icon = runsIcon;
          return widget;
        });
      }
    });

    commands.addCommand(CommandIDs.compare, {
      label: 'Compare Selected nbtrack Runs',
      isEnabled: args =>
        (Array.isArray(args?.runIds) ? (args.runIds as string[]) : sidebar.selection).length >= 2,
      execute: args => {
        const ids = Array.isArray(args?.runIds) ? (args.runIds as string[]) : sidebar.selection;
        if (ids.length < 2) {
          Notification.warning('Tick two or more runs in the Runs sidebar to compare them.');
          return;
        }
        const widget = new MainAreaWidget({ content: new ComparePanel(ids, api) });
        widget.title.label = `Compare ${ids.length} runs`;
        widget.title.icon = runsIcon;
        shell.add(widget, 'main');
        shell.activateById(widget.id);
      }
    });

    commands.addCommand(CommandIDs.insertCode, {
      label: 'Insert Code to Load This nbtrack Run',
      execute: args => {
        const runId = runIdOf(args);
        if (!runId) {
          return;
        }
        insertCode(loadRunCode(runId), 'the run', notebooks, shell);
      }
    });

    commands.addCommand(CommandIDs.copyRunId, {
      label: 'Copy nbtrack Run Id',
      execute: args => {
        const runId = runIdOf(args);
        if (runId) {
          Clipboard.copyToSystem(runId);
          Notification.info(`Copied run id ${runId}`, { autoClose: 2000 });
        }
      }
    });

    commands.addCommand(CommandIDs.renameRun, {
      label: 'Rename nbtrack Run…',
      execute: async args => {
        const runId = runIdOf(args);
        if (!runId) {
          return;
        }
        const result = await InputDialog.getText({ title: 'Rename run', placeholder: 'new name' });
        if (!result.button.accept || !result.value) {
          return;
        }
        try {
          await api.patchRun(runId, { name: result.value });
        } catch (error) {
          Notification.error(String((error as Error).message));
          return;
        }
        void openPanels.get(runId)?.content.load();
        void sidebar.refresh();
      }
    });

    commands.addCommand(CommandIDs.deleteRun, {
      label: 'Delete nbtrack Run',
      execute: async args => {
        const runId = runIdOf(args);
        if (!runId) {
          return;
        }
        const answer = await showDialog({
          title: 'Delete run?',
          body: `Run ${runId} is hidden from every view until it is restored ("Restore Deleted nbtrack Run").`,
          buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
        });
        if (!answer.button.accept) {
          return;
        }
        try {
          await api.deleteRun(runId);
        } catch (error) {
          Notification.error(String((error as Error).message));
          return;
        }
        lastDeleted = runId;
        openPanels.get(runId)?.dispose();
        void sidebar.refresh();
        Notification.info(`Deleted run ${runId}`, {
          autoClose: 6000,
          actions: [
            {
              label: 'Undo',
              callback: () => void commands.execute(CommandIDs.restoreRun, { runId })
            }
          ]
        });
      }
    });

    commands.addCommand(CommandIDs.restoreRun, {
      label: 'Restore Deleted nbtrack Run',
      isEnabled: args => typeof args?.runId === 'string' || lastDeleted !== null,
      execute: async args => {
        const runId = typeof args?.runId === 'string' ? args.runId : lastDeleted;
        if (!runId) {
          return;
        }
        try {
          await api.restoreRun(runId);
        } catch (error) {
          Notification.error(String((error as Error).message));
          return;
        }
        if (runId === lastDeleted) {
          lastDeleted = null;
        }
        void sidebar.refresh();
      }
    });

    commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh nbtrack Runs',
      execute: () => sidebar.refresh()
    });

    addModelCommands({ app, api, sidebar, notebooks, palette, icon: runsIcon });

    for (const command of [
      CommandIDs.showRuns,
      CommandIDs.compare,
      CommandIDs.insertCode,
      CommandIDs.copyRunId,
      CommandIDs.renameRun,
      CommandIDs.deleteRun,
      CommandIDs.restoreRun,
      CommandIDs.refresh
    ]) {
      palette?.addItem({ command, category: 'nbtrack' });
    }
    let rank = 0;
    for (const command of [
      CommandIDs.openRun,
      CommandIDs.insertCode,
      CommandIDs.copyRunId,
      CommandIDs.compare,
      CommandIDs.renameRun,
      CommandIDs.deleteRun
    ]) {
      app.contextMenu.addItem({ command, selector: '.nbtl-run-row', rank: rank++ });
    }

    if (settingRegistry) {
      void settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          const apply = () => {
            sidebar.refreshInterval = settings.get('refreshInterval').composite as number;
            sidebar.pageSizeSetting = settings.get('pageSize').composite as number;
            const store = (settings.get('store').composite as string) ?? '';
            if (store !== api.store) {
              api.store = store;
              sidebar.storeChanged();
            }
          };
          apply();
          settings.changed.connect(apply);
        })
        .catch(() => undefined);
    }
  }
};

export default plugin;
