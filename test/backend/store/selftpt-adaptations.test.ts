// The cache of Self-TPT stage 2's adapted contexts: the migration that adds it, its key, and that
// its rows go with their learned prompt.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/backend/store/database.js';
import { float32ToBlob, migrations, openStore } from '../../../src/backend/store/index.js';
import { stage2ClassKey } from '../../../src/backend/store/selftpt-adaptations.js';
import { tempDir } from '../helpers.js';

const classes = (...names: string[]) => ({
  template: 'a photo of a {}.',
  contextInit: 'a photo of a',
  classes: names.map((name) => ({ name, prompt: null })),
});

describe('Self-TPT adaptations cache', () => {
  it('upgrades a version 11 database: learned prompts stay, adaptations are cached per prompt, model and classes', () => {
    const path = join(tempDir(), 'v11.db');
    const v11 = openDatabase(path, { targetVersion: 11 });
    v11.exec(`
      INSERT INTO class_sets (id, name, template, context_init, created_at, updated_at) VALUES (1, 'c', '{}', 'a', 0, 0);
      INSERT INTO models (id, name, dir, config_json, created_at) VALUES (1, 'm', '/m', '{}', 0);`);
    v11
      .prepare(
        `INSERT INTO learned_prompts (id, class_set_id, model_id, version, method, template, class_names_json, ctx,
           n_ctx, settings_json, labels_json, accuracy_json, history_json, nearest_tokens_json, created_at)
         VALUES (1, 1, 1, 1, 'selftpt', '{}', '["a","b"]', ?, 1, '{}', '[]', '{}', '[]', '[]', 0)`,
      )
      .run(float32ToBlob([1, 2]));
    v11.close();

    const store = openStore(path);
    expect(store.schemaVersion()).toBe(migrations.length);
    expect(store.learnedPrompts.require(1).classNames).toEqual(['a', 'b']);
    const adapted = { ctx: Float32Array.of(3, 4), losses: [0.5, 0.25], seconds: 1.5 };
    store.selfTptAdaptations.put(1, 1, classes('b', 'c'), adapted);
    expect(store.selfTptAdaptations.get(1, 1, classes('b', 'c'))).toMatchObject({
      ...adapted,
      ctx: Float32Array.of(3, 4),
    });
    for (const other of [
      classes('c', 'b'),
      classes('b', 'd'),
      classes('b'),
      { ...classes('b', 'c'), template: '{}' },
    ])
      expect(store.selfTptAdaptations.get(1, 1, other)).toBeUndefined();
    expect(store.selfTptAdaptations.get(1, 2, classes('b', 'c'))).toBeUndefined();
    expect(store.selfTptAdaptations.has(1, 1, classes('b', 'c'))).toBe(true);
    expect(store.selfTptAdaptations.has(1, 2, classes('b', 'c'))).toBe(false);

    store.learnedPrompts.remove(1);
    expect(store.selfTptAdaptations.countOf(1)).toBe(0);
    store.close();
  });

  it('keys the classes by everything stage 2 reads, and by nothing else', () => {
    const base = classes('cat', 'dog');
    const key = stage2ClassKey(base);
    expect(stage2ClassKey({ ...base, classes: [...base.classes] })).toBe(key);
    expect(stage2ClassKey({ ...base, contextInit: 'a picture of a' })).not.toBe(key);
    expect(
      stage2ClassKey({
        ...base,
        classes: [{ name: 'cat', prompt: 'a photo of a small cat.' }, base.classes[1]],
      }),
    ).not.toBe(key);
    // A class set's other fields (its name, ids, dates) are not part of it.
    expect(stage2ClassKey({ ...base, name: 'renamed set', id: 7 } as typeof base)).toBe(key);
  });
});
