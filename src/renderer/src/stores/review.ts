// Keyboard review: a queue of the shown view's images (the run with the runs layered on it), most
// uncertain first; decisions (class, accept,
// reject, skip) are saved at once and advance to the next unreviewed image; undo/redo go through the
// backend's label history and bring the cursor back to the image they changed.
import { defineStore } from 'pinia';
import { computed, ref, watch } from 'vue';
import type { ApiOutput, GridPage } from '../../../shared/api.js';
import type { GridItem } from '../../../shared/api.js';
import { useApi } from '../api.js';
import { errorMessage } from '../lib/format.js';
import { createPagedList } from '../lib/paged-list.js';
import type { ReviewCommand } from '../lib/review-keys.js';
import { useAppStore } from './app.js';
import { useClassSetsStore } from './class-sets.js';
import { useLibraryStore } from './library.js';
import { useRunsStore } from './runs.js';

export interface ReviewDecision {
  actionId: number;
  imageId: number;
  relPath: string;
  /** Position in the queue when decided. */
  index: number;
  /** What was decided, in words ("cat", "rejected cat", "skipped"). */
  summary: string;
  undone: boolean;
  at: number;
}

const pageSize = 100;
const historyLength = 50;
const unreviewed = (item: GridItem) => item.decision === null || item.decision === 'skip';

export const useReviewStore = defineStore('review', () => {
  const api = useApi();
  const app = useAppStore();
  const library = useLibraryStore();
  const runs = useRunsStore();
  const classSets = useClassSetsStore();

  const cursor = ref(0);
  const reviewedCount = ref(0);
  const history = ref<ReviewDecision[]>([]);
  const helpOpen = ref(false);
  const error = ref<string | null>(null);
  /** True when no unreviewed image is left after a decision. */
  const allReviewed = ref(false);

  const run = computed(() => runs.viewed);
  const classSet = computed(() => classSets.byId(run.value?.classSetId));
  const classNames = computed(() => classSet.value?.classes.map((c) => c.name) ?? []);
  const scope = computed(() =>
    run.value && library.activeId !== null
      ? { collectionId: library.activeId, classSetId: run.value.classSetId }
      : null,
  );

  const emptyPage: GridPage = { total: 0, offset: 0, items: [] };
  const queue = createPagedList<GridItem>(
    (offset, limit) =>
      run.value && library.activeId !== null
        ? api.call('browse.grid', {
            collectionId: library.activeId,
            runId: run.value.id,
            layered: runs.layered,
            // Only images the run has a prediction for, most uncertain first.
            hasPrediction: true,
            sort: { key: 'entropy', direction: 'desc' },
            offset,
            limit,
          })
        : Promise.resolve(emptyPage),
    { pageSize, maxPages: 20 },
  );
  const total = queue.total;
  const current = computed(() => queue.at(cursor.value) ?? null);
  const remaining = computed(() => Math.max(0, total.value - reviewedCount.value));

  async function refreshCount(): Promise<void> {
    if (!run.value || library.activeId === null) return;
    const page = await api.call('browse.grid', {
      collectionId: library.activeId,
      runId: run.value.id,
      layered: runs.layered,
      hasPrediction: true,
      reviewState: 'reviewed',
      limit: 1,
    });
    reviewedCount.value = page.total;
  }

  async function restart(): Promise<void> {
    cursor.value = 0;
    allReviewed.value = false;
    history.value = [];
    try {
      await Promise.all([queue.reset(), refreshCount()]);
      error.value = null;
      const first = queue.at(0);
      if (first && !unreviewed(first)) await advance();
    } catch (cause) {
      error.value = errorMessage(cause);
    }
  }

  async function moveTo(index: number): Promise<void> {
    if (index < 0 || index >= total.value) return;
    cursor.value = index;
    await queue.ensure(index, index + 2);
  }

  /** Moves to the next unreviewed image after the cursor, wrapping around once. */
  async function advance(): Promise<void> {
    const count = total.value;
    for (let step = 1; step <= count; step++) {
      const index = (cursor.value + step) % count;
      if (queue.at(index) === undefined) await queue.ensure(index, index + pageSize);
      const item = queue.at(index);
      if (item && unreviewed(item) && index !== cursor.value) {
        allReviewed.value = false;
        await moveTo(index);
        return;
      }
    }
    allReviewed.value = current.value !== null && !unreviewed(current.value);
  }

  function describe(command: ReviewCommand, item: GridItem): string {
    const name = (ordinal: number | null) =>
      ordinal === null ? '?' : (classNames.value[ordinal] ?? `#${ordinal}`);
    switch (command.kind) {
      case 'assign':
        return name(command.classOrdinal);
      case 'accept':
        return `${name(item.predicted)} (accepted)`;
      case 'reject':
        return `not ${name(item.predicted)}`;
      default:
        return 'skipped';
    }
  }

  function labelAfter(command: ReviewCommand, item: GridItem): Partial<GridItem> {
    switch (command.kind) {
      case 'assign':
        return { decision: 'label', labelClass: command.classOrdinal, labelSource: 'human' };
      case 'accept':
        return { decision: 'label', labelClass: item.predicted, labelSource: 'accepted' };
      case 'reject':
        return { decision: 'reject', labelClass: null, labelSource: 'human' };
      default:
        return { decision: 'skip', labelClass: null, labelSource: 'human' };
    }
  }

  function send(command: ReviewCommand, item: GridItem): Promise<ApiOutput<'review.assign'>> {
    const imageIds = [item.imageId];
    // Accepting or rejecting is about the prediction on screen: the one of the run it came from.
    const runId = item.runId ?? run.value!.id;
    const classSetId = run.value!.classSetId;
    switch (command.kind) {
      case 'assign':
        return api.call('review.assign', { imageIds, classSetId, classOrdinal: command.classOrdinal });
      case 'accept':
        return api.call('review.accept', { imageIds, runId });
      case 'reject':
        return api.call('review.reject', { imageIds, runId });
      default:
        return api.call('review.skip', { imageIds, classSetId });
    }
  }

  async function decide(command: ReviewCommand): Promise<void> {
    const item = current.value;
    if (!item || !run.value) return;
    if (command.kind !== 'assign' && command.kind !== 'skip' && item.predicted === null) return;
    const index = cursor.value;
    const action = await app.save(() => send(command, item));
    if (action === undefined) return;
    queue.patch(
      (i) => i.imageId === item.imageId,
      (i) => ({ ...i, ...labelAfter(command, item) }),
    );
    if (action) {
      // A new decision forgets the redo stack, here as in the backend.
      const kept = history.value.filter((d) => !d.undone);
      history.value = [
        {
          actionId: action.id,
          imageId: item.imageId,
          relPath: item.relPath,
          index,
          summary: describe(command, item),
          undone: false,
          at: action.createdAt,
        },
        ...kept,
      ].slice(0, historyLength);
    }
    await refreshCount();
    await advance();
  }

  async function undoOrRedo(kind: 'undo' | 'redo'): Promise<void> {
    if (!scope.value) return;
    const scopeNow = scope.value;
    const action = await app.save(() => api.call(kind === 'undo' ? 'review.undo' : 'review.redo', scopeNow));
    if (!action) return;
    const entry = history.value.find((d) => d.actionId === action.id);
    if (entry) {
      entry.undone = action.undone;
      if (kind === 'undo') await moveTo(entry.index);
    }
    await Promise.all([queue.refresh(), refreshCount()]);
    if (kind === 'redo') await advance();
  }

  // Commands run one after another, in the order of the key presses, however fast they come.
  let pending: Promise<void> = Promise.resolve();
  function serially(task: () => Promise<void>): Promise<void> {
    pending = pending.then(task).catch((cause) => app.notify('error', errorMessage(cause)));
    return pending;
  }

  async function perform(command: ReviewCommand): Promise<void> {
    switch (command.kind) {
      case 'previous':
        return moveTo(cursor.value - 1);
      case 'next':
        return moveTo(cursor.value + 1);
      case 'help':
        helpOpen.value = !helpOpen.value;
        return;
      case 'undo':
      case 'redo':
        return undoOrRedo(command.kind);
      default:
        return decide(command);
    }
  }

  const execute = (command: ReviewCommand) => serially(() => perform(command));
  // A new run (or a new layer on it) means a new queue; keys pressed meanwhile apply to it.
  watch(
    () => `${run.value?.id}:${runs.layers.length}`,
    () => void serially(restart),
    { immediate: true },
  );
  /** Resolves when every command given so far has finished. */
  const idle = () => pending;
  /** Brings an earlier decision's image back, to change it. */
  const revisit = (decision: ReviewDecision) => serially(() => moveTo(decision.index));

  return {
    run,
    classSet,
    classNames,
    queue,
    cursor,
    current,
    total,
    reviewedCount,
    remaining,
    history,
    helpOpen,
    error,
    allReviewed,
    restart,
    execute,
    idle,
    revisit,
    moveTo,
  };
});
