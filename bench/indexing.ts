// Indexing and grid benchmark: generate N small images, index them, rescan, write one
// run's results, then time grid pages (200 images, filtered and sorted) over the whole collection.
//   npx tsx bench/indexing.ts [--count 100000] [--dir DIR (reused if it holds the images)] [--repeats 21]
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { scanCollection } from '../src/backend/library/indexer.js';
import { openStore, type GridQuery, type LabelChange, type Store } from '../src/backend/store/index.js';
import { makeImageFolder } from '../scripts/make-image-folder.js';
import { positiveInt } from './lib/args.js';
import { median, timed } from './lib/measure.js';
import { MemoryMonitor } from './lib/memory.js';
import { machineLine, markdownTable, type Cell } from './lib/report.js';

const classCount = 10;

/** A deterministic softmax over the classes for image i, peaked on a class that depends on i. */
function probabilities(i: number, shift: number): Float32Array {
  const logits = Array.from({ length: classCount }, (_, c) => Math.sin(i * 12.9898 + c * 78.233 + shift) * 3);
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return new Float32Array(exps.map((e) => e / sum));
}

const entropy = (p: Float32Array) => -p.reduce((s, x) => s + (x > 0 ? x * Math.log(x) : 0), 0);

/** One finished run over every image, with results shaped like the engine's. */
function writeRun(store: Store, collectionId: number): { runId: number; classSetId: number } {
  const classSet = store.classSets.create({
    name: 'bench classes',
    template: 'a photo of a {}.',
    contextInit: 'a photo of a',
    classes: Array.from({ length: classCount }, (_, c) => ({ name: `class ${c}` })),
  });
  const model = store.models.upsert({ name: 'bench', dir: '/bench/model', config: {} });
  const run = store.runs.create({
    collectionId,
    classSetId: classSet.id,
    modelId: model.id,
    method: 'tpt',
    params: {},
    scope: { kind: 'collection' },
  });
  const items = store.runs.nextPending(run.id, 0, run.total);
  store.transaction(() => {
    for (const { imageId } of items) {
      const probs = probabilities(imageId, 0);
      const zeroShotProbs = imageId % 4 === 0 ? probabilities(imageId, 1) : probs;
      store.results.recordResult(run.id, imageId, {
        label: probs.indexOf(Math.max(...probs)),
        probs,
        zeroShotProbs,
        entropy: entropy(probs),
        zeroShotEntropy: entropy(zeroShotProbs),
        adapted: imageId % 4 === 0,
        timings: { total: 1 },
      });
    }
  });
  store.runs.setStatus(run.id, 'done');
  return { runId: run.id, classSetId: classSet.id };
}

/** Labels every tenth image, as an expert part-way through review would have. */
function labelEveryTenth(store: Store, collectionId: number, classSetId: number): void {
  const changes: LabelChange[] = [];
  for (let page = store.images.pageAfter(collectionId, 0, 1000); page.length > 0;) {
    for (const image of page) {
      if (image.id % 10 !== 0) continue;
      const after = {
        decision: 'label',
        classOrdinal: image.id % classCount,
        rejectedOrdinal: null,
        source: 'human',
        runId: null,
      } as const;
      changes.push({ imageId: image.id, after });
    }
    page = store.images.pageAfter(collectionId, page[page.length - 1].id, 1000);
  }
  store.labels.apply({ collectionId, classSetId }, 'bench', changes);
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { count: { type: 'string' }, dir: { type: 'string' }, repeats: { type: 'string' } },
  });
  const count = positiveInt('count', values.count, 100_000);
  const repeats = positiveInt('repeats', values.repeats, 21);
  const work = mkdtempSync(join(tmpdir(), 'metatpt-bench-indexing-'));
  const imagesDir = values.dir ?? join(work, 'images');
  const marker = join(imagesDir, `.generated-${count}`);
  const rows: Cell[][] = [];
  const memory = new MemoryMonitor();

  try {
    console.log(machineLine());
    if (!existsSync(marker)) {
      const generated = await timed(() => makeImageFolder({ out: imagesDir, count }));
      writeFileSync(marker, '');
      rows.push([
        'generate images (64 px PNG)',
        count,
        generated.ms / 1000,
        count / (generated.ms / 1000),
        '',
      ]);
    }
    const store = openStore(join(work, 'bench.db'));
    const { id: collectionId } = store.collections.create(imagesDir, 'bench');

    memory.reset();
    const firstScan = await timed(() => scanCollection(store, collectionId));
    const scanPeak = memory.peak();
    if (firstScan.value.added !== count)
      throw new Error(`indexed ${firstScan.value.added} images, expected ${count}`);
    const peak = `${scanPeak.highWaterMiB?.toFixed(0) ?? scanPeak.sampledMiB.toFixed(0)} MiB`;
    rows.push([
      'index (hash + header, new)',
      count,
      firstScan.ms / 1000,
      count / (firstScan.ms / 1000),
      peak,
    ]);

    const rescan = await timed(() => scanCollection(store, collectionId));
    rows.push(['rescan (unchanged)', count, rescan.ms / 1000, count / (rescan.ms / 1000), '']);

    const results = await timed(() => writeRun(store, collectionId));
    rows.push(['write one run of results', count, results.ms / 1000, count / (results.ms / 1000), '']);
    const { runId, classSetId } = results.value;
    labelEveryTenth(store, collectionId, classSetId);
    store.optimize(); // as the executor does when a run ends

    const queries: [string, GridQuery][] = [
      ['first page by path', { collectionId, runId, sort: { key: 'path' } }],
      ['most uncertain first', { collectionId, runId, sort: { key: 'entropy', direction: 'desc' } }],
      [
        'one predicted class, by confidence',
        { collectionId, runId, predictedClass: 3, sort: { key: 'confidence' } },
      ],
      [
        'unreviewed, entropy 1–2, by entropy',
        {
          collectionId,
          runId,
          reviewState: 'unreviewed',
          entropy: { min: 1, max: 2 },
          sort: { key: 'entropy', direction: 'desc' },
        },
      ],
      [
        'zero-shot ≠ adapted, by entropy',
        { collectionId, runId, disagreement: true, sort: { key: 'entropy' } },
      ],
      [
        'page at offset 50% by path',
        { collectionId, runId, sort: { key: 'path' }, offset: Math.floor(count / 2) },
      ],
    ];
    const gridRows: Cell[][] = [];
    for (const [name, query] of queries) {
      const times: number[] = [];
      let total = 0;
      for (let r = 0; r < repeats; r++) {
        const { ms, value } = await timed(() => store.grid.query({ ...query, limit: 200 }));
        times.push(ms);
        total = value.total;
      }
      gridRows.push([name, total, median(times), Math.max(...times)]);
    }
    const dbMiB = statSync(join(work, 'bench.db')).size / 1024 ** 2;
    store.close();

    console.log(`\n## Indexing ${count} images\n`);
    console.log(markdownTable(['step', 'images', 'seconds', 'images/s', 'peak RSS'], rows));
    console.log(`\nDatabase after one run: ${dbMiB.toFixed(0)} MiB (WAL checkpointed on close).`);
    console.log(`\n## Grid queries (page of 200, ${repeats} repeats)\n`);
    console.log(markdownTable(['query', 'matching', 'median ms', 'max ms'], gridRows, 2));
  } finally {
    memory.stop();
    // The database and, unless --dir kept them elsewhere, the generated images.
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(
      `bench indexing: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    process.exitCode = 1;
  });
}
