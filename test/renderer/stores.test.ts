// @vitest-environment happy-dom
// The renderer's stores against a real backend in this process: library, class sets, runs (with
// progress events), the grid's query, selection and bulk assignment, the inspector and the export.
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/app.js';
import { useAppStore } from '../../src/renderer/src/stores/app.js';
import { nameFromPath, useClassSetsStore } from '../../src/renderer/src/stores/class-sets.js';
import { useExportsStore } from '../../src/renderer/src/stores/exports.js';
import {
  defaultFilters,
  filtersFromParams,
  filtersToParams,
  gridQuery,
  useGridStore,
} from '../../src/renderer/src/stores/grid.js';
import { useInspectorStore } from '../../src/renderer/src/stores/inspector.js';
import { useLibraryStore } from '../../src/renderer/src/stores/library.js';
import { useModelsStore } from '../../src/renderer/src/stores/models.js';
import { useRunsStore } from '../../src/renderer/src/stores/runs.js';
import type { RunInfo as Run, WorkbenchApi } from '../../src/shared/api.js';
import {
  CLASS_NAMES,
  call,
  makeWorkspace,
  nextEvent,
  startBackend,
  type Workspace,
} from '../backend/app-fixtures.js';
import { inProcessApi, piniaWith } from './in-process-api.js';

const imageCount = 12;
let workspace: Workspace;
let backend: Backend;
let api: WorkbenchApi;

beforeAll(async () => {
  workspace = await makeWorkspace(imageCount);
  backend = await startBackend(workspace);
  api = inProcessApi(backend);
  piniaWith(api);
});

afterAll(async () => {
  await backend?.close();
  workspace?.remove();
});

/** Waits until the grid's first page for the current query has arrived. */
async function gridReady(grid: ReturnType<typeof useGridStore>): Promise<void> {
  while (!grid.items.ready) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('renderer stores over the backend', () => {
  it('adds a folder and makes it the active collection, saving visibly', async () => {
    const app = useAppStore();
    const library = useLibraryStore();
    await Promise.all([app.loadInfo(), library.load(), useModelsStore().load()]);
    expect(app.info?.shell).toBe('browser');
    expect(library.collections).toEqual([]);
    expect(useModelsStore().models.map((m) => m.name)).toEqual(['tiny']);

    await library.addFolder(workspace.photos);
    expect(library.active?.imageCounts.ok).toBe(imageCount);
    expect(app.notices.at(-1)?.text).toMatch(
      /12 new, 0 changed, 0 moved, 0 removed, 0 unreadable, 0 skipped$/,
    );

    // A folder that cannot be added is a message, not "Not saved": nothing of the user's work was lost.
    await library.addFolder(join(workspace.root, 'no-such-folder'));
    expect(app.saveState).toBe('idle');
    expect(app.notices.at(-1)).toMatchObject({
      kind: 'error',
      text: expect.stringMatching(/no-such-folder/),
    });
  });

  it('edits a class set, imports classes from a file, and flags changed prompts', async () => {
    const classSets = useClassSetsStore();
    await classSets.load();
    classSets.edit(null);
    expect(classSets.problems).toContain('The class set needs a name.');
    const file = join(workspace.root, 'classes.txt');
    writeFileSync(file, `${CLASS_NAMES.join('\n')}\n`);
    expect(await classSets.importFrom('file', file)).toBe(true);
    expect(classSets.draft.classes.map((c) => c.name)).toEqual(CLASS_NAMES);
    expect(classSets.draft.name).toBe('classes');
    classSets.draft.name = 'golden';
    classSets.draft.classes.push({ name: CLASS_NAMES[0], prompt: '' });
    expect(classSets.problems).toContain(`"${CLASS_NAMES[0]}" appears twice.`);
    classSets.removeClass(CLASS_NAMES.length);
    const saved = await classSets.save();
    expect(saved?.classes.map((c) => c.name)).toEqual(CLASS_NAMES);
    expect(classSets.activeId).toBe(saved!.id);
    expect(classSets.rescoreReason).toBe('new');

    classSets.rescoreReason = null;
    classSets.draft.template = 'a blurry photo of a {}.';
    await classSets.save();
    expect(classSets.rescoreReason).toBe('changed');
    classSets.rescoreReason = null;
    classSets.draft.template = 'a photo of a {}.';
    await classSets.save();
    classSets.rescoreReason = null;
    await classSets.save();
    expect(classSets.rescoreReason).toBeNull();
  });

  it('starts a zero-shot run, follows its progress, and shows it in the grid', async () => {
    const runs = useRunsStore();
    const library = useLibraryStore();
    await runs.load();
    const finished = nextEvent(backend, 'run.progress', (p) => p.status === 'done');
    const run = await runs.start({
      collectionId: library.activeId!,
      classSetId: useClassSetsStore().activeId!,
      modelId: useModelsStore().models[0].id,
      method: 'zeroshot',
      params: { method: 'zeroshot' },
      scope: { kind: 'collection' },
    });
    expect(run).toMatchObject({ method: 'zeroshot', total: imageCount });
    const last = await finished;
    expect(runs.progress[run!.id]).toEqual(last);
    while (runs.runs.find((r) => r.id === run!.id)?.status !== 'done')
      await new Promise((r) => setTimeout(r, 5));
    expect(runs.viewed?.id).toBe(run!.id);

    const grid = useGridStore();
    await gridReady(grid);
    expect(grid.query).toMatchObject({ runId: run!.id, classSetId: useClassSetsStore().activeId });
    expect(grid.items.total).toBe(imageCount);
    expect(grid.items.at(0)?.predicted).not.toBeNull();
  });

  it('selects by click, Shift-range and Ctrl-toggle, selects all, and bulk-assigns one undoable action', async () => {
    const grid = useGridStore();
    await gridReady(grid);
    const id = (index: number) => grid.items.at(index)!.imageId;
    await grid.select(2, { shift: false, toggle: false });
    await grid.select(5, { shift: true, toggle: false });
    expect([...grid.selection].sort((a, b) => a - b)).toEqual([2, 3, 4, 5].map(id).sort((a, b) => a - b));
    await grid.select(3, { shift: false, toggle: true });
    expect(grid.selection.has(id(3))).toBe(false);
    expect(grid.selection.size).toBe(3);
    await grid.selectAll();
    expect(grid.selection.size).toBe(imageCount);

    await grid.assignSelection(1);
    const classSetId = grid.classSetId!;
    const labeled = await call(backend, 'browse.grid', {
      collectionId: useLibraryStore().activeId!,
      classSetId,
      labelClass: 1,
    });
    expect(labeled.total).toBe(imageCount);
    expect(grid.items.at(0)).toMatchObject({ decision: 'label', labelClass: 1 });
    const history = await call(backend, 'review.history', {
      collectionId: useLibraryStore().activeId!,
      classSetId,
    });
    expect(history[0]).toMatchObject({ kind: 'bulk-assign', imageCount });
    // The notice's Undo takes the whole bulk assignment back, and the grid shows it.
    const notice = useAppStore().notices.at(-1)!;
    expect(notice).toMatchObject({ kind: 'info', action: { label: 'Undo' } });
    await notice.action!.run();
    expect(grid.items.at(0)).toMatchObject({ decision: null, labelClass: null });
    expect(useAppStore().notices.at(-1)?.text).toMatch(/^Undone: bulk-assign of 12 images/);
  });

  it('filters: a query per filter, and a changed query clears the selection', async () => {
    const grid = useGridStore();
    await grid.select(0, { shift: false, toggle: false });
    expect(grid.selection.size).toBe(1);
    grid.filters.reviewState = 'labeled';
    grid.filters.sort = { key: 'entropy', direction: 'desc' };
    await Promise.resolve();
    expect(grid.selection.size).toBe(0);
    await gridReady(grid);
    expect(grid.items.total).toBe(0);
    grid.resetFilters();
    await Promise.resolve();
    await gridReady(grid);
    expect(grid.items.total).toBe(imageCount);

    const filters = {
      ...defaultFilters(),
      predictedClass: 2,
      confidence: { min: 0.5, max: null },
      disagreement: true,
    };
    expect(gridQuery(1, 3, 4, filters)).toEqual({
      collectionId: 1,
      runId: 3,
      classSetId: 4,
      sort: { key: 'id', direction: 'asc' },
      predictedClass: 2,
      confidence: { min: 0.5 },
      disagreement: true,
    });
    // Without a run, prediction filters are left out rather than failing the query.
    expect(gridQuery(1, null, null, filters)).toEqual({
      collectionId: 1,
      sort: { key: 'id', direction: 'asc' },
    });
    expect(gridQuery(null, null, null, filters)).toBeNull();
    // Filters travel in the page address and come back the same; junk there reads as the defaults.
    const sorted = {
      ...filters,
      reviewState: 'skipped' as const,
      sort: { key: 'entropy' as const, direction: 'desc' as const },
    };
    expect(filtersToParams(sorted)).toEqual({
      class: '2',
      review: 'skipped',
      cmin: '0.5',
      changed: 'yes',
      sort: 'entropy:desc',
    });
    expect(filtersFromParams(filtersToParams(sorted))).toEqual(sorted);
    expect(filtersFromParams({ class: '-1', review: 'maybe', hmin: 'x', sort: 'size:up' })).toEqual(
      defaultFilters(),
    );
  });

  it('adapts a selection with MetaTPT and inspects the learned views', async () => {
    const runs = useRunsStore();
    const grid = useGridStore();
    await gridReady(grid);
    const chosen = [0, 1].map((i) => grid.items.at(i)!.imageId);
    const finished = nextEvent(backend, 'run.progress', (p) => p.status === 'done');
    const run = (await runs.start({
      collectionId: useLibraryStore().activeId!,
      classSetId: useClassSetsStore().activeId!,
      modelId: useModelsStore().models[0].id,
      method: 'metatpt',
      params: { method: 'metatpt', preset: 'fast-cpu', views: 8 },
      scope: { kind: 'images', imageIds: chosen },
      baseRunId: runs.viewed!.id,
    })) as Run;
    await finished;
    while (runs.runs.find((r) => r.id === run.id)?.status !== 'done')
      await new Promise((r) => setTimeout(r, 5));
    // A layer on the shown view: the zero-shot run stays shown, its two images now show MetaTPT.
    expect(runs.viewed?.method).toBe('zeroshot');
    expect(runs.layers.map((layer) => layer.id)).toEqual([run.id]);
    expect(grid.query).toMatchObject({ runId: runs.viewed!.id, layered: true });
    await grid.items.refresh();
    expect([0, 1].map((i) => grid.items.at(i)!.runId)).toEqual([run.id, run.id]);
    expect(grid.items.at(2)!.runId).toBe(runs.viewed!.id);
    expect(run.settings).toMatchObject({ preset: 'fast-cpu', views: 8, innerSteps: 1 });

    const inspector = useInspectorStore();
    await inspector.open(chosen[0]);
    expect(inspector.result?.run.id).toBe(run.id);
    expect(inspector.result?.views).toHaveLength(8);
    expect(inspector.result?.views.filter((v) => v.selected).length).toBeGreaterThan(0);
    expect(inspector.result?.views[0].theta).toHaveLength(6);
    inspector.chooseRun(runs.viewed!.id);
    expect(inspector.result?.run.method).toBe('zeroshot');
  });

  it('exports the viewed run with the dialog choices', async () => {
    const exports = useExportsStore();
    const outDir = join(mkdtempSync(join(tmpdir(), 'metatpt-export-')), 'dataset');
    Object.assign(exports.choices, { format: 'csv', include: 'predictions', outDir });
    await exports.start(useRunsStore().viewed!.id);
    expect(exports.result?.outDir).toBe(outDir);
    expect(readdirSync(outDir).length).toBeGreaterThan(0);
  });

  it('re-scores the collection at once from cached features after a prompt change', async () => {
    const classSets = useClassSetsStore();
    const runs = useRunsStore();
    const grid = useGridStore();
    classSets.edit(classSets.activeId);
    classSets.draft.classes[0].prompt = `a drawing of a ${CLASS_NAMES[0]}`;
    await classSets.save();
    expect(classSets.rescoreReason).toBe('changed');

    const run = await runs.rescore({
      collectionId: useLibraryStore().activeId!,
      classSetId: classSets.activeId!,
      modelId: useModelsStore().models[0].id,
    });
    // Every image was scored by an earlier run under this model: nothing is left for the engine.
    expect(run).toMatchObject({ method: 'zeroshot', status: 'done', done: imageCount });
    expect(runs.runs[0].id).toBe(run!.id);
    expect(runs.viewed?.id).toBe(run!.id);
    await gridReady(grid);
    expect(grid.query?.runId).toBe(run!.id);
    expect(grid.items.total).toBe(imageCount);
  });
});

describe('renderer stores over a reload', () => {
  it('keeps the class set being looked at (the Runs form starts from it)', async () => {
    const classSets = useClassSetsStore();
    const other = await api.call('classSets.create', {
      name: 'kept over a reload',
      classes: CLASS_NAMES.slice(0, 2).map((name) => ({ name })),
    });
    await classSets.load();
    classSets.edit(other.id);
    // A reload: fresh stores over the same page address.
    piniaWith(api);
    const reloaded = useClassSetsStore();
    await reloaded.load();
    expect(reloaded.activeId).toBe(other.id);
  });
});

describe('nameFromPath', () => {
  it('names an imported class set after its file without the extension, or after its folder', () => {
    expect(nameFromPath('/data/insects/classes.txt', 'file')).toBe('classes');
    expect(nameFromPath('C:\\labs\\cls_comma.txt', 'file')).toBe('cls_comma');
    expect(nameFromPath('/data/.classes', 'file')).toBe('.classes');
    expect(nameFromPath('/data/insects.v2/', 'folders')).toBe('insects.v2');
  });
});
