// Looking at a collection: grid pages and everything known about one image.
import { toAbsolute } from '../library/files.js';
import type { GridPage, GridQuery, Store } from '../store/index.js';
import type { ImageDetail } from '../../shared/domain/results.js';

export function createBrowseService({ store }: { store: Store }) {
  return {
    /** A page of the grid; see GridQuery for filters and sort keys. Pages hold at most 1000 images. */
    grid(query: GridQuery): GridPage {
      store.collections.require(query.collectionId);
      return store.grid.query(query);
    },

    imageDetail(imageId: number): ImageDetail {
      const image = store.images.require(imageId);
      const collection = store.collections.require(image.collectionId);
      const results = store.results.predictionsOfImage(imageId).map((prediction) => {
        const run = store.runs.require(prediction.runId);
        return {
          run: {
            id: run.id,
            method: run.method,
            status: run.status,
            classSetId: run.classSetId,
            modelId: run.modelId,
            params: run.params,
            createdAt: run.createdAt,
          },
          prediction,
          adaptedPrompt: store.results.adaptedPrompt(run.id, imageId) ?? null,
          views: store.results.views(run.id, imageId),
        };
      });
      const current = store.labels.ofImage(imageId);
      const imported = store.importedLabels.ofImage(imageId);
      const classSetIds = new Set([
        ...results.map((r) => r.run.classSetId),
        ...current.map((l) => l.classSetId),
        ...imported.map((l) => l.classSetId),
      ]);
      const labels = [...classSetIds].map((classSetId) => ({
        classSetId,
        label: current.find((l) => l.classSetId === classSetId) ?? null,
        imported: imported.find((l) => l.classSetId === classSetId) ?? null,
        history: store.labels.historyOfImage(imageId, classSetId),
      }));
      return {
        image,
        collection: { id: collection.id, name: collection.name, root: collection.root },
        absPath: toAbsolute(collection.root, image.relPath),
        results,
        labels,
      };
    },
  };
}

export type BrowseService = ReturnType<typeof createBrowseService>;
