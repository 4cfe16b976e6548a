/**
 * Pure helpers of the Models section and the model panel (no DOM, no network): tested in
 * modelLogic.spec.ts.
 */
import type { IModelVersion, IRegisteredModel } from './request';

/** Which version a `models:/` URI names: an alias (`@champion`) or a number (`/3`). */
export type ModelRef = { alias: string } | { version: number };

/** `champion → v3` labels of a model's aliases, by alias name. */
export function aliasLabels(aliases: Record<string, number>): string[] {
  return Object.keys(aliases)
    .sort()
    .map(alias => `${alias} → v${aliases[alias]}`);
}

/** The `models:/` URI of a version: `models:/<name>@<alias>` or `models:/<name>/<version>`. */
export function modelUri(name: string, ref: ModelRef): string {
  return 'alias' in ref ? `models:/${name}@${ref.alias}` : `models:/${name}/${ref.version}`;
}

/** Python that loads the model a URI names (what "Insert code" puts in the notebook). */
export function loadModelCode(name: string, ref: ModelRef): string {
  const uri = JSON.stringify(modelUri(name, ref));
  return `import nbtrack as nt\n\nmodel = nt.load_model(${uri})\nmodel`;
}

/**
 * The reference "Insert code" uses for a version: its first alias (an alias follows the
 * version a team promotes), else its number.
 */
export function preferredRef(version: Pick<IModelVersion, 'version' | 'aliases'>): ModelRef {
  const aliases = [...version.aliases].sort();
  return aliases.length ? { alias: aliases[0] } : { version: version.version };
}

/**
 * The reference for a whole model: its `champion` alias when it has one, else its first
 * alias, else its latest version; null for a model with no version.
 */
export function modelRef(
  model: Pick<IRegisteredModel, 'aliases' | 'latest_version'>
): ModelRef | null {
  const aliases = Object.keys(model.aliases).sort();
  if (aliases.includes('champion')) {
    return { alias: 'champion' };
  }
  if (aliases.length) {
    return { alias: aliases[0] };
  }
  return model.latest_version === null ? null : { version: model.latest_version };
}

/** Bytes as "812 B", "4.2 KB", "13.0 MB"; empty for unknown. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) {
    return '';
  }
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} ${units[0]}` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A UTC time in ms as `2026-11-30 23:55` (the panels' date format); empty for null. */
export function formatDate(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) {
    return '';
  }
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

/** The text of a model count: "1 model", "3 models", "100+ models". */
export function modelCount(n: number, more: boolean): string {
  return `${n}${more ? '+' : ''} ${n === 1 && !more ? 'model' : 'models'}`;
}
