// The adaptation settings: presets and defaults resolved, every bad setting named, and the schema
// generated from the settings' table keeping each bound.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SETTINGS,
  NUMBER_SETTINGS,
  PRESETS,
  adaptParamsSchema,
  parseAdaptSettings,
  settingMethods,
} from '../../../src/shared/domain/adaptation.js';

describe('parseAdaptSettings', () => {
  it('fills defaults and applies a preset, then explicit settings', () => {
    expect(parseAdaptSettings({})).toEqual(DEFAULT_SETTINGS);
    const fast = parseAdaptSettings({ method: 'metatpt', preset: 'fast-cpu', innerSteps: 2, lr: 0.01 });
    expect(fast).toEqual({
      ...DEFAULT_SETTINGS,
      ...PRESETS['fast-cpu'].settings,
      method: 'metatpt',
      innerSteps: 2,
      lr: 0.01,
    });
    expect(fast.views).toBe(16);
  });

  it('names every bad setting, each once', () => {
    const message = (() => {
      try {
        parseAdaptSettings({ method: 'tpt', views: 0, variant: 'x', selectRatio: 0, bogus: 1 });
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    })();
    expect(message).toMatch(/^invalid adaptation settings: /);
    const problems = message.replace(/^invalid adaptation settings: /, '').split('; ');
    expect(problems.map((p) => p.split(':')[0])).toEqual(['variant', 'views', 'selectRatio', 'params']);
    expect(problems[3]).toMatch(/"bogus"/);
  });
});

describe('the settings table', () => {
  it.each(Object.entries(NUMBER_SETTINGS))('%s: the schema keeps its bounds', (name, setting) => {
    const valid = (value: number) => adaptParamsSchema.safeParse({ [name]: value }).success;
    const { min, max, integer } = setting as { min?: number; max?: number; integer: boolean };
    const greaterThan = (setting as { greaterThan?: number }).greaterThan;
    const inRange = DEFAULT_SETTINGS[name as keyof typeof NUMBER_SETTINGS] ?? min ?? 1;
    expect(valid(inRange as number)).toBe(true);
    if (min !== undefined) expect(valid(min - 1)).toBe(false);
    if (greaterThan !== undefined) expect(valid(greaterThan)).toBe(false);
    if (max !== undefined) expect(valid(max + 1)).toBe(false);
    if (integer) expect(valid((inRange as number) + 0.5)).toBe(false);
  });

  it('says which methods a setting means something for', () => {
    expect(settingMethods('views')).toEqual(['tpt', 'metatpt', 'selftpt-v']);
    expect(settingMethods('steps')).toEqual(['tpt', 'metatpt']);
    expect(settingMethods('innerSteps')).toEqual(['metatpt']);
    expect(settingMethods('variant')).toEqual(['metatpt']);
    expect(settingMethods('preset')).toEqual(['tpt', 'metatpt', 'selftpt-v']);
    expect(settingMethods('learnedPrompt')).not.toContain('zeroshot');
  });
});
