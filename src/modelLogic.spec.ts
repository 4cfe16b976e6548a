import { describe, expect, it } from 'vitest';

import {
  aliasLabels,
  formatBytes,
  formatDate,
  loadModelCode,
  modelCount,
  modelRef,
  modelUri,
  preferredRef
} from './modelLogic';

describe('aliasLabels', () => {
  it('shows each alias with its version, by alias name', () => {
    expect(aliasLabels({ staging: 4, champion: 3 })).toEqual(['champion → v3', 'staging → v4']);
  });
  it('is empty for a model with no alias', () => {
    expect(aliasLabels({})).toEqual([]);
  });
});

describe('modelUri and loadModelCode', () => {
  it('names a version by alias or by number', () => {
    expect(modelUri('churn', { alias: 'champion' })).toBe('models:/churn@champion');
    expect(modelUri('churn', { version: 3 })).toBe('models:/churn/3');
  });
  it('writes Python that loads the model', () => {
    expect(loadModelCode('churn model', { alias: 'champion' })).toBe(
      'import nbtrack as nt\n\nmodel = nt.load_model("models:/churn model@champion")\nmodel'
    );
    expect(loadModelCode('churn', { version: 12 })).toContain('nt.load_model("models:/churn/12")');
  });
});

describe('preferredRef and modelRef', () => {
  it('prefers a version alias over its number', () => {
    expect(preferredRef({ version: 2, aliases: ['staging', 'canary'] })).toEqual({
      alias: 'canary'
    });
    expect(preferredRef({ version: 2, aliases: [] })).toEqual({ version: 2 });
  });
  it('prefers champion, then any alias, then the latest version', () => {
    expect(modelRef({ aliases: { a: 1, champion: 2 }, latest_version: 3 })).toEqual({
      alias: 'champion'
    });
    expect(modelRef({ aliases: { zeta: 1, beta: 2 }, latest_version: 3 })).toEqual({
      alias: 'beta'
    });
    expect(modelRef({ aliases: {}, latest_version: 3 })).toEqual({ version: 3 });
    expect(modelRef({ aliases: {}, latest_version: null })).toBeNull();
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [812, '812 B'],
    [1024, '1.0 KB'],
    [4300, '4.2 KB'],
    [13 * 1024 * 1024, '13.0 MB'],
    [null, '']
  ])('%s -> %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

describe('formatDate and modelCount', () => {
  it('formats UTC minutes', () => {
    expect(formatDate(Date.UTC(2026, 10, 30, 23, 55, 12))).toBe('2026-11-30 23:55');
    expect(formatDate(null)).toBe('');
  });
  it('counts models', () => {
    expect(modelCount(1, false)).toBe('1 model');
    expect(modelCount(0, false)).toBe('0 models');
    expect(modelCount(100, true)).toBe('100+ models');
  });
});
