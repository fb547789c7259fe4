// The run form's fields and params, generated from the settings table.
import { describe, expect, it } from 'vitest';
import {
  fieldProblem,
  paramFields,
  presetValues,
  runParams,
  runPrecision,
} from '../../src/renderer/src/lib/run-params.js';
import { adaptParamsSchema, NUMBER_SETTINGS } from '../../src/shared/domain/adaptation.js';

const field = (key: string) => paramFields.find((f) => f.key === key)!;

describe('run form', () => {
  it('shows the settings the table puts in the form, in its order', () => {
    const inForm = Object.entries(NUMBER_SETTINGS).filter(([, s]) => s.inForm);
    expect(paramFields.map((f) => f.key)).toEqual(inForm.map(([key]) => key));
    expect(field('views')).toMatchObject({ label: 'Views', min: 1, max: 512, integer: true });
  });

  it('starts a run with the preset and only the values that differ from it, valid for the backend', () => {
    const values = { ...presetValues('fast-cpu'), lr: 0.01, innerSteps: 3 };
    expect(presetValues('fast-cpu').views).toBe(16);
    const tpt = runParams('tpt', 'fast-cpu', values, 'second-order');
    expect(tpt).toEqual({ method: 'tpt', preset: 'fast-cpu', lr: 0.01 });
    const meta = runParams('metatpt', 'fast-cpu', values, 'second-order');
    expect(meta).toEqual({
      method: 'metatpt',
      preset: 'fast-cpu',
      lr: 0.01,
      innerSteps: 3,
      variant: 'second-order',
    });
    expect(adaptParamsSchema.safeParse(meta).success).toBe(true);
  });

  it('sends the precision for any method only when it is not fp32, and reads it back from a run', () => {
    const values = presetValues('fast-cpu');
    expect(runParams('zeroshot', 'fast-cpu', values, 'two-stage')).toEqual({
      method: 'zeroshot',
      preset: 'fast-cpu',
    });
    const int8 = runParams('zeroshot', 'fast-cpu', values, 'two-stage', 'int8');
    expect(int8).toEqual({ method: 'zeroshot', preset: 'fast-cpu', precision: 'int8' });
    expect(adaptParamsSchema.safeParse(int8).success).toBe(true);
    expect(runPrecision(int8)).toBe('int8');
    expect(runPrecision({ method: 'tpt' })).toBe('fp32');
  });

  it('names a value out of its bounds', () => {
    expect(fieldProblem(field('views'), 0)).toBe('Views is at least 1');
    expect(fieldProblem(field('views'), 2.5)).toBe('Views is a whole number');
    expect(fieldProblem(field('lr'), 0)).toBe('Prompt LR is more than 0');
    expect(fieldProblem(field('selectRatio'), 1.5)).toBe('Confident ratio is at most 1');
    expect(fieldProblem(field('lr'), 0.01)).toBeNull();
  });
});
