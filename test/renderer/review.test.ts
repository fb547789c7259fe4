// @vitest-environment happy-dom
// Keyboard review against a real backend: keys on the window → decisions saved → auto-advance, undo
// and redo through the label history, counts and the editable history.
import { mount, type VueWrapper } from '@vue/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextTick } from 'vue';
import type { Backend } from '../../src/backend/app.js';
import { apiKey } from '../../src/renderer/src/api.js';
import { useAppStore } from '../../src/renderer/src/stores/app.js';
import { useClassSetsStore } from '../../src/renderer/src/stores/class-sets.js';
import { useLibraryStore } from '../../src/renderer/src/stores/library.js';
import { useReviewStore } from '../../src/renderer/src/stores/review.js';
import { useRunsStore } from '../../src/renderer/src/stores/runs.js';
import ReviewView from '../../src/renderer/src/views/ReviewView.vue';
import type { WorkbenchApi } from '../../src/shared/api.js';
import {
  CLASS_NAMES,
  call,
  makeWorkspace,
  nextEvent,
  startBackend,
  type Workspace,
} from '../backend/app-fixtures.js';
import { inProcessApi, piniaWith } from './in-process-api.js';

let workspace: Workspace;
let backend: Backend;
let api: WorkbenchApi;
let collectionId: number;
let classSetId: number;
let runId: number;

beforeAll(async () => {
  workspace = await makeWorkspace(6);
  backend = await startBackend(workspace);
  api = inProcessApi(backend);
  collectionId = (await call(backend, 'collections.add', { folder: workspace.photos })).collection.id;
  classSetId = (
    await call(backend, 'classSets.create', {
      name: 'golden',
      classes: CLASS_NAMES.map((name) => ({ name })),
    })
  ).id;
  const [model] = await call(backend, 'models.list', {});
  const done = nextEvent(backend, 'run.progress', (p) => p.status === 'done');
  runId = (
    await call(backend, 'runs.start', {
      collectionId,
      classSetId,
      modelId: model.id,
      method: 'zeroshot',
      params: { method: 'zeroshot' },
      scope: { kind: 'collection' },
    })
  ).id;
  await done;
});

afterAll(async () => {
  await backend?.close();
  workspace?.remove();
});

async function mountReview(): Promise<{ view: VueWrapper; review: ReturnType<typeof useReviewStore> }> {
  const pinia = piniaWith(api);
  await Promise.all([useLibraryStore().load(), useClassSetsStore().load()]);
  await useRunsStore().load();
  useAppStore().open('review');
  const view = mount(ReviewView, {
    global: { plugins: [pinia], provide: { [apiKey as symbol]: api } },
    attachTo: document.body,
  });
  const review = useReviewStore();
  await review.idle();
  return { view, review };
}

async function press(
  review: ReturnType<typeof useReviewStore>,
  key: string,
  code: string,
  mods: KeyboardEventInit = {},
) {
  window.dispatchEvent(new KeyboardEvent('keydown', { key, code, bubbles: true, ...mods }));
  await review.idle();
  await nextTick();
}

const labelOf = (imageId: number) => call(backend, 'review.labelOf', { imageId, classSetId });

describe('review view', () => {
  it('decides with the keyboard, advances, undoes and redoes', async () => {
    const { view, review } = await mountReview();
    expect(review.run?.id).toBe(runId);
    expect(review.total).toBe(6);
    expect(view.get('[data-testid="remaining-count"]').text()).toBe('6');
    // The queue is the most uncertain first.
    const entropies = (await review.queue.slice(0, 6)).map((i) => i.entropy!);
    expect(entropies).toEqual([...entropies].sort((a, b) => b - a));

    const first = review.current!;
    await press(review, '2', 'Digit2');
    expect(await labelOf(first.imageId)).toMatchObject({
      decision: 'label',
      classOrdinal: 1,
      source: 'human',
    });
    expect(review.cursor).toBe(1);

    const second = review.current!;
    await press(review, 'Enter', 'Enter');
    expect(await labelOf(second.imageId)).toMatchObject({
      decision: 'label',
      classOrdinal: second.predicted,
      source: 'accepted',
      runId,
    });

    const third = review.current!;
    await press(review, 'x', 'KeyX');
    expect(await labelOf(third.imageId)).toMatchObject({
      decision: 'reject',
      rejectedOrdinal: third.predicted,
    });
    expect(view.get('[data-testid="reviewed-count"]').text()).toBe('3');
    expect(view.get('[data-testid="remaining-count"]').text()).toBe('3');
    expect(review.history.map((d) => d.imageId)).toEqual([third.imageId, second.imageId, first.imageId]);

    // Undo brings the rejected image back, unlabeled, and marks the decision undone.
    await press(review, 'z', 'KeyZ', { ctrlKey: true });
    expect(await labelOf(third.imageId)).toBeNull();
    expect(review.current?.imageId).toBe(third.imageId);
    expect(review.current?.decision).toBeNull();
    expect(review.history[0]).toMatchObject({ imageId: third.imageId, undone: true });
    expect(view.get('[data-testid="reviewed-count"]').text()).toBe('2');

    // Redo re-applies it and moves on.
    await press(review, 'Z', 'KeyZ', { ctrlKey: true, shiftKey: true });
    expect(await labelOf(third.imageId)).toMatchObject({ decision: 'reject' });
    expect(review.history[0].undone).toBe(false);
    expect(review.cursor).toBe(3);

    // Space skips (still counted as not reviewed); a class key beyond the set does nothing.
    const fourth = review.current!;
    await press(review, ' ', 'Space');
    expect(await labelOf(fourth.imageId)).toMatchObject({ decision: 'skip' });
    expect(view.get('[data-testid="reviewed-count"]').text()).toBe('3');
    const fifth = review.current!;
    await press(review, '9', 'Digit9');
    expect(await labelOf(fifth.imageId)).toBeNull();
    expect(review.current?.imageId).toBe(fifth.imageId);

    // Arrows move without deciding; ? opens the cheat sheet with each class's key.
    await press(review, 'ArrowLeft', 'ArrowLeft');
    expect(review.current?.imageId).toBe(fourth.imageId);
    await press(review, 'ArrowRight', 'ArrowRight');
    expect(review.current?.imageId).toBe(fifth.imageId);
    await press(review, '?', 'Slash', { shiftKey: true });
    const overlay = view.get('[data-testid="shortcut-overlay"]');
    expect(overlay.text()).toContain(CLASS_NAMES[3]);
    expect(overlay.findAll('kbd').map((k) => k.text())).toEqual(expect.arrayContaining(['1', '2', '3', '4']));
    await press(review, 'Escape', 'Escape');
    expect(view.find('[data-testid="shortcut-overlay"]').exists()).toBe(false);
    view.unmount();
  });

  it('shows each class with its key, and ignores keys typed into a field', async () => {
    const { view, review } = await mountReview();
    const classes = view.get('[data-testid="review-classes"]');
    expect(classes.findAll('li').map((li) => li.get('kbd').text())).toEqual(['1', '2', '3', '4']);
    const input = document.createElement('input');
    document.body.append(input);
    const before = review.cursor;
    input.dispatchEvent(
      new KeyboardEvent('keydown', { key: 'ArrowRight', code: 'ArrowRight', bubbles: true }),
    );
    await review.idle();
    expect(review.cursor).toBe(before);
    input.remove();
    view.unmount();
  });
});
