// Every caller mistake is an answer about the input (issue 17): the test takes a valid input of every
// API call, spoils one field at a time in every way a client can (wrong ids, paths to nothing, to a
// folder, to a device, to an image, out-of-range numbers, unknown enum values, empty lists, …) and
// checks that no answer is a 'failed' (HTTP 500) error; the spoiled values are generated from each
// call's own schema, so a new field or call is covered without editing this test.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Backend } from '../../../src/backend/app.js';
import { errorPayload } from '../../../src/backend/api/dispatch.js';
import { apiSchemas, type ApiInput, type ApiMethod } from '../../../src/shared/api.js';
import {
  CLASS_NAMES,
  call,
  makeWorkspace,
  scoreZeroShot,
  startBackend,
  type Workspace,
} from '../app-fixtures.js';

/** Calls whose failure is not about the caller's input: they reach outside (network, a dialog). */
const OUTSIDE = new Set<ApiMethod>(['models.download', 'app.pickFolder']);

interface Context {
  collectionId: number;
  classSetId: number;
  modelId: number;
  runId: number;
  imageId: number;
  photos: string;
  out: string;
  /** A CLIP model folder that is not installed yet. */
  modelFolder: string;
}

/** A valid input of every call that takes one (the spoiled inputs start from these). */
function validInputs(c: Context): { [M in ApiMethod]?: ApiInput<M> } {
  const scope = { collectionId: c.collectionId, classSetId: c.classSetId };
  const imageIds = [c.imageId];
  return {
    'collections.add': { folder: c.photos, name: 'again', followLinks: false },
    'collections.rescan': { collectionId: c.collectionId, followLinks: false },
    'collections.rename': { collectionId: c.collectionId, name: 'renamed' },
    'collections.remove': { collectionId: c.collectionId },
    'classSets.get': { classSetId: c.classSetId },
    'classSets.create': {
      name: 'other',
      classes: [{ name: 'a', prompt: null }, { name: 'b' }],
      template: 'a {}',
    },
    'classSets.update': {
      classSetId: c.classSetId,
      patch: { name: 'renamed', classes: [{ name: 'x' }, { name: 'y' }] },
    },
    'classSets.remove': { classSetId: c.classSetId },
    'classSets.readFile': { path: join(c.out, 'classes.txt') },
    'classSets.readFolders': { root: c.photos },
    'models.import': { folder: c.modelFolder, name: 'copy' },
    'runs.start': {
      ...scope,
      modelId: c.modelId,
      method: 'tpt',
      params: { steps: 1, views: 4 },
      scope: { kind: 'images', imageIds },
      baseRunId: c.runId,
    },
    'runs.rescore': { ...scope, modelId: c.modelId },
    'runs.pause': { runId: c.runId },
    'runs.resume': { runId: c.runId },
    'runs.cancel': { runId: c.runId },
    'runs.retryFailed': { runId: c.runId },
    'runs.rename': { runId: c.runId, name: 'named' },
    'runs.list': { collectionId: c.collectionId },
    'runs.get': { runId: c.runId },
    'runs.items': { runId: c.runId, state: 'done', offset: 0, limit: 10 },
    'runs.evaluate': { runId: c.runId, against: 'all' },
    'scaleOut.save': { settings: { redisUrl: 'redis://queue-host:6379', password: 'pw', queue: 'q' } },
    'review.assign': { imageIds, classSetId: c.classSetId, classOrdinal: 1 },
    'review.accept': { imageIds, runId: c.runId },
    'review.reject': { imageIds, runId: c.runId },
    'review.skip': { imageIds, classSetId: c.classSetId },
    'review.clear': { imageIds, classSetId: c.classSetId },
    'review.undo': scope,
    'review.redo': scope,
    'review.history': { ...scope, limit: 10 },
    'review.labelOf': { imageId: c.imageId, classSetId: c.classSetId },
    'browse.grid': {
      collectionId: c.collectionId,
      runId: c.runId,
      classSetId: c.classSetId,
      predictedClass: 0,
      offset: 0,
      limit: 10,
    },
    'browse.image': { imageId: c.imageId },
    'export.run': {
      runId: c.runId,
      format: 'imagefolder',
      outDir: join(c.out, 'export'),
      include: 'predictions',
      minConfidence: 0,
      split: { train: 0.5, val: 0.5, seed: 0 },
      link: 'copy',
      unlabeled: 'folder',
    },
    'export.importLabels': { ...scope, format: 'csv', path: join(c.out, 'labels.csv') },
  } as { [M in ApiMethod]?: ApiInput<M> };
}

type Schema = z.ZodType;

/** The schema under optional/nullable/default wrappers. */
function unwrap(schema: Schema): Schema {
  let inner = schema as z.ZodType & { unwrap?: () => Schema; def: { innerType?: Schema } };
  for (;;) {
    const kind = inner.def.type;
    if (kind === 'optional' || kind === 'nullable' || kind === 'default')
      inner = inner.def.innerType as typeof inner;
    else return inner;
  }
}

/** Values a client may send in place of a valid one of this schema (paths: files a user may pick). */
function spoiled(schema: Schema, c: Context): unknown[] {
  const inner = unwrap(schema);
  const paths = [
    '/does/not/exist',
    c.photos, // a folder
    join(c.photos, 'd0000', 'img-0000000.png'), // an image
    '/dev/null',
    '/dev/zero',
    'relative/path',
    join(c.out, 'not-json.txt'),
    `${c.photos}\u0000x`,
  ];
  switch (inner.def.type) {
    case 'number':
      return [-1, 0, 0.5, 999_999, 2 ** 53, '1'];
    case 'string':
      return ['', ' ', 'x'.repeat(5000), ...paths, 7];
    case 'boolean':
      return ['yes'];
    case 'enum':
    case 'literal':
      return ['bogus', 0];
    case 'array':
      return [[], [999_999], [-1], 'x', [null]];
    case 'object':
    case 'union':
      return [null, [], 'x', { bogus: 1 }];
    default:
      return [null];
  }
}

/** Inputs with one field (at any depth) replaced by a spoiled value, or removed. */
function* spoiledInputs(
  schema: Schema,
  value: unknown,
  c: Context,
  path: string[] = [],
): Generator<[string, unknown]> {
  const inner = unwrap(schema) as z.ZodObject;
  if (inner.def.type !== 'object' || value === null || typeof value !== 'object') return;
  const record = value as Record<string, unknown>;
  for (const [key, field] of Object.entries(inner.shape as Record<string, Schema>)) {
    const at = [...path, key].join('.');
    const { [key]: _omitted, ...without } = record;
    yield [`${at} missing`, without];
    for (const bad of spoiled(field, c))
      yield [`${at} = ${JSON.stringify(bad)?.slice(0, 40)}`, { ...record, [key]: bad }];
    if (record[key] !== undefined)
      for (const [what, inside] of spoiledInputs(field, record[key], c, [...path, key]))
        yield [what, { ...record, [key]: inside }];
  }
}

let workspace: Workspace;
let backend: Backend;
let context: Context;

beforeAll(async () => {
  workspace = await makeWorkspace(3);
  backend = await startBackend(workspace);
  const out = join(workspace.root, 'files');
  mkdirSync(out);
  writeFileSync(join(out, 'classes.txt'), CLASS_NAMES.join('\n'));
  writeFileSync(join(out, 'not-json.txt'), 'this is not JSON, CSV, YAML or a class list {');
  const { collection } = await call(backend, 'collections.add', { folder: workspace.photos });
  const { classSet, model, run } = await scoreZeroShot(backend, collection.id);
  const [item] = await call(backend, 'runs.items', { runId: run.id });
  writeFileSync(
    join(out, 'labels.csv'),
    `filepath,label\n${join(workspace.photos, 'd0000', 'img-0000000.png')},${CLASS_NAMES[0]}\n`,
  );
  context = {
    collectionId: collection.id,
    classSetId: classSet.id,
    modelId: model.id,
    runId: run.id,
    imageId: item.imageId,
    photos: workspace.photos,
    out,
    modelFolder: join(workspace.resourcesDir, 'models', 'tiny'),
  };
});

afterAll(async () => {
  await backend?.close();
  workspace?.remove();
});

describe('the API answers every caller mistake as one', () => {
  it('never with a failure of its own (HTTP 500), for every call and every spoiled field', async () => {
    const inputs = validInputs(context);
    const failures: string[] = [];
    let tried = 0;
    // Destructive calls last, so that the others meet the records they name.
    const methods = (Object.keys(apiSchemas) as ApiMethod[])
      .filter((m) => !OUTSIDE.has(m))
      .sort((a, b) => Number(/remove/.test(a)) - Number(/remove/.test(b)));
    for (const method of methods) {
      const base = inputs[method] ?? {};
      const cases: [string, unknown][] = [
        ['input null', null],
        ['input a list', []],
        ['input a string', 'x'],
        ['an unknown field', { ...base, bogus: 1 }],
        ...spoiledInputs(apiSchemas[method], base, context),
      ];
      for (const [what, input] of cases) {
        tried++;
        try {
          await backend.dispatch(method, input);
        } catch (error) {
          const payload = errorPayload(error);
          if (payload.code === 'failed') failures.push(`${method}, ${what}: ${payload.message}`);
        }
      }
    }
    expect(tried).toBeGreaterThan(500);
    expect(failures).toEqual([]);
  });
});
