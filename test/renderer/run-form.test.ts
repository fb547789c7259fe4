// @vitest-environment happy-dom
// The Runs form's choices outlive a reload: kept in local storage, read back field by field.
import { createPinia, setActivePinia } from 'pinia';
import { nextTick } from 'vue';
import { beforeEach, describe, expect, it } from 'vitest';
import { presetValues } from '../../src/renderer/src/lib/run-params.js';
import { defaultRunForm, readRunForm, useRunFormStore } from '../../src/renderer/src/stores/run-form.js';

/** A fresh page: a new Pinia over the same local storage. */
function reloaded() {
  setActivePinia(createPinia());
  return useRunFormStore();
}

beforeEach(() => localStorage.clear());

describe('the run form store', () => {
  it('starts at zero-shot with the fast-cpu preset and keeps what was chosen over a reload', async () => {
    const form = reloaded();
    expect(form.method).toBe('zeroshot');
    expect(form.values).toEqual(presetValues('fast-cpu'));
    form.method = 'tpt';
    form.preset = 'paper';
    await nextTick();
    form.values.views = 8; // an edited parameter, as the form's v-model writes it
    form.precision = 'int8';
    form.scopeKind = 'uncertain';
    form.minEntropy = 1.25;
    form.showAdvanced = true;
    form.modelId = 3;
    await nextTick();

    const again = reloaded();
    expect(again.method).toBe('tpt');
    expect(again.preset).toBe('paper');
    expect(again.values).toEqual({ ...presetValues('paper'), views: 8 });
    expect([again.precision, again.scopeKind, again.minEntropy]).toEqual(['int8', 'uncertain', 1.25]);
    expect([again.showAdvanced, again.modelId]).toEqual([true, 3]);
  });

  it('sets the parameters of a preset when one is chosen', async () => {
    const form = reloaded();
    form.values.views = 8;
    form.preset = 'paper';
    await nextTick();
    expect(form.values).toEqual(presetValues('paper'));
  });

  it('reads back only what is valid, each choice on its own', () => {
    expect(readRunForm('not json')).toEqual(defaultRunForm());
    expect(readRunForm('[1, 2]')).toEqual(defaultRunForm());
    const read = readRunForm(
      JSON.stringify({
        method: 'gone',
        preset: 'paper',
        values: { views: 'many', steps: 2 },
        precision: 'int8',
      }),
    );
    expect(read).toEqual({
      ...defaultRunForm(),
      preset: 'paper',
      values: { ...presetValues('paper'), steps: 2 },
      precision: 'int8',
    });
  });
});
