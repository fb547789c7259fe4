// Collections: a folder the user added, its image index and its thumbnails.
import { realpath, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { scanCollection, type ScanOptions } from '../library/indexer.js';
import type { ThumbnailCache } from '../library/thumbnails.js';
import type { RunExecutor } from '../jobs/executor.js';
import type { Collection, Store } from '../store/index.js';
import type { CollectionSummary, ScanSummary } from '../../shared/domain/library.js';
import { InvalidRequestError } from '../store/errors.js';
import { describeFsError } from '../regular-file.js';

export interface CollectionsServiceDeps {
  store: Store;
  /** Runs of a collection are cancelled before it is removed. */
  executor?: RunExecutor;
  thumbnails?: ThumbnailCache;
}

export function createCollectionsService({ store, executor, thumbnails }: CollectionsServiceDeps) {
  const summary = (collection: Collection): CollectionSummary => ({
    ...collection,
    imageCounts: store.images.countByStatus(collection.id),
  });

  return {
    /**
     * Registers a folder (or finds it, if already registered) and indexes it. The folder is stored by
     * its real path, so two spellings of one folder are one collection.
     */
    async addFolder(
      folder: string,
      options: ScanOptions & { name?: string } = {},
    ): Promise<{ collection: CollectionSummary; scan: ScanSummary }> {
      let root: string;
      try {
        root = await realpath(folder);
      } catch (error) {
        throw new InvalidRequestError(`cannot add ${folder}: ${describeFsError(error)}`);
      }
      if (!(await stat(root)).isDirectory())
        throw new InvalidRequestError(`cannot add ${folder}: not a folder`);
      const collection =
        store.collections.getByRoot(root) ??
        store.collections.create(root, options.name?.trim() || basename(root));
      const scan = await scanCollection(store, collection.id, options);
      return { collection: summary(store.collections.require(collection.id)), scan };
    },

    rescan(collectionId: number, options: ScanOptions = {}): Promise<ScanSummary> {
      return scanCollection(store, collectionId, options);
    },

    list(): CollectionSummary[] {
      return store.collections.list().map(summary);
    },

    get(collectionId: number): CollectionSummary {
      return summary(store.collections.require(collectionId));
    },

    rename(collectionId: number, name: string): CollectionSummary {
      if (!name.trim()) throw new InvalidRequestError('a collection name cannot be empty');
      store.collections.require(collectionId);
      store.collections.rename(collectionId, name.trim());
      return summary(store.collections.require(collectionId));
    },

    /** Forgets the collection and everything recorded about it; the image files are not touched. */
    async remove(collectionId: number): Promise<void> {
      store.collections.require(collectionId);
      for (const run of store.runs.list(collectionId)) {
        if (executor && (run.status === 'running' || run.status === 'queued')) await executor.cancel(run.id);
      }
      store.collections.remove(collectionId);
    },

    /** Makes the collection's missing thumbnails in the background (see ThumbnailCache.fill). */
    fillThumbnails(collectionId: number, options: Parameters<ThumbnailCache['fill']>[1] = {}) {
      if (!thumbnails) throw new Error('no thumbnail cache is configured');
      return thumbnails.fill(collectionId, options);
    },

    thumbnailOf(imageId: number): Promise<string> {
      if (!thumbnails) throw new Error('no thumbnail cache is configured');
      return thumbnails.thumbnailOf(imageId);
    },
  };
}

export type CollectionsService = ReturnType<typeof createCollectionsService>;
