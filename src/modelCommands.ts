/**
 * The commands of the Models section: open a registered model's panel, insert code that
 * loads a model (by alias or version), refresh the list.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';

import { loadModelCode, ModelRef, modelRef, modelUri } from './modelLogic';
import { ModelPanel } from './modelPanel';
import { NbtrackApi } from './request';
import { RunsSidebar } from './sidebar';
import { insertCode } from './notebookCode';
import { showPanel } from './panels';

export namespace ModelCommandIDs {
  export const openModel = 'nbtrack:open-model';
  export const insertModelCode = 'nbtrack:insert-model-code';
  export const refreshModels = 'nbtrack:refresh-models';
}

export interface IModelCommandOptions {
  app: JupyterFrontEnd;
  api: NbtrackApi;
  sidebar: RunsSidebar;
  notebooks: INotebookTracker | null;
  palette: ICommandPalette | null;
  icon: LabIcon;
}

export function addModelCommands(options: IModelCommandOptions): void {
  const { app, api, sidebar, notebooks, palette, icon } = options;
  const { commands, shell } = app;
  const panels = new Map<string, MainAreaWidget<ModelPanel>>();

  /** The model a command acts on: its `name`, else the context-menu row, else the last clicked. */
  const nameOf = (args: any): string | null => {
    if (typeof args?.name === 'string') {
      return args.name;
    }
    const node = app.contextMenuHitTest(n => n.classList.contains('nbtl-model-row'));
    return node?.dataset.modelName ?? sidebar.modelsSection.current;
  };

  commands.addCommand(ModelCommandIDs.openModel, {
    label: 'Open nbtrack Registered Model',
    execute: args => {
      const name = nameOf(args);
      if (!name) {
        return;
      }
      showPanel(shell, panels, name, () => {
        const widget = new MainAreaWidget({ content: new ModelPanel(name, api, commands) });
        widget.id = widget.content.id;
        widget.title.label = name;
        widget.title.icon = icon;
        return widget;
      });
    }
  });

  commands.addCommand(ModelCommandIDs.insertModelCode, {
    label: args =>
      typeof args?.name === 'string' && refOf(args)
        ? `Insert Code: Load ${modelUri(args.name, refOf(args)!)}`
        : 'Insert Code: Load This nbtrack Model',
    execute: args => {
      const name = nameOf(args);
      if (!name) {
        return;
      }
      // No alias or version given: the model's champion (or first alias, or latest version).
      const listed = sidebar.modelsSection.models.find(m => m.name === name);
      const ref = refOf(args) ?? (listed ? modelRef(listed) : null);
      if (!ref) {
        return;
      }
      insertCode(loadModelCode(name, ref), modelUri(name, ref), notebooks, shell);
    }
  });

  commands.addCommand(ModelCommandIDs.refreshModels, {
    label: 'Refresh nbtrack Models',
    execute: () => sidebar.modelsSection.refresh()
  });

  for (const command of [ModelCommandIDs.insertModelCode, ModelCommandIDs.refreshModels]) {
    palette?.addItem({ command, category: 'nbtrack' });
  }
  app.contextMenu.addItem({
    command: ModelCommandIDs.openModel,
    selector: '.nbtl-model-row',
    rank: 0
  });
  app.contextMenu.addItem({
    command: ModelCommandIDs.insertModelCode,
    selector: '.nbtl-model-row',
    rank: 1
  });
}

/** The `alias` or `version` argument of a command, if it has one. */
function refOf(args: any): ModelRef | null {
  if (typeof args?.alias === 'string' && args.alias) {
    return { alias: args.alias };
  }
  if (typeof args?.version === 'number') {
    return { version: args.version };
  }
  return null;
}
