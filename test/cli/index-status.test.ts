import { join } from 'node:path';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/command.js';
import { commands } from '../../src/cli/commands.js';
import type { CommandIo } from '../../src/cli/format.js';
import { createReviewService } from '../../src/backend/services/review.js';
import { openStore } from '../../src/backend/store/index.js';
import { imageRelPath, makeImageFolder } from '../../scripts/make-image-folder.js';
import { SCAN_LISTED } from '../../src/shared/domain/library.js';
import { createCollectionRun, seedCollection, tempDir } from '../backend/helpers.js';
import { seedEvaluatedRuns } from '../backend/services/evaluation-fixture.js';

const runIndex = (args: string[], io: CommandIo) => runCli(commands, ['index', ...args], io);
const runStatus = (args: string[], io: CommandIo) => runCli(commands, ['status', ...args], io);
const runEvaluate = (args: string[], io: CommandIo) => runCli(commands, ['evaluate', ...args], io);

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIo = {
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
    stderrIsTTY: false,
  };
  return { io, out: () => out.join(''), err: () => err.join('') };
}

describe('metatpt index', () => {
  it('indexes a folder and prints the counts as JSON, incrementally on the second call', async () => {
    const folder = tempDir();
    await makeImageFolder({ out: folder, count: 4, size: 16 });
    writeFileSync(join(folder, 'broken.png'), 'no');
    const db = join(tempDir(), 'w.db');

    const first = capture();
    expect(await runIndex(['--db', db, folder, '--json'], first.io)).toBe(0);
    const brokenError = expect.stringMatching(/unsupported image format|Input/i);
    expect(JSON.parse(first.out())).toEqual({
      collectionId: 1,
      ...{ added: 5, changed: 0, moved: 0, removed: 0, unchanged: 0, errors: 1, unreadable: 1 },
      addedPaths: ['broken.png', ...[0, 1, 2, 3].map((i) => imageRelPath(i, 1000, 'png'))],
      ...{ changedPaths: [], movedPaths: [], removedPaths: [], skippedCount: 0, skipped: [] },
      failed: [{ path: 'broken.png', error: brokenError }],
      durationMs: expect.any(Number),
    });

    // The broken file is unchanged, so not read again: still counted and named as unreadable.
    const second = capture();
    expect(await runIndex(['--db', db, folder], second.io)).toBe(0);
    expect(second.out()).toMatch(
      /^collection 1 ".*" \(.*\): 0 added, 0 changed, 0 moved, 0 removed, 5 unchanged, 1 unreadable \(0 new this scan\)/,
    );
    expect(second.out()).toMatch(/\n {2}unreadable: broken\.png: /);

    // --json names every path of each kind, past what a summary keeps (SCAN_LISTED).
    await makeImageFolder({ out: join(folder, 'more'), count: SCAN_LISTED + 1, size: 8 });
    renameSync(join(folder, imageRelPath(0, 1000, 'png')), join(folder, 'moved.png'));
    rmSync(join(folder, imageRelPath(1, 1000, 'png')));
    const third = capture();
    expect(await runIndex(['--db', db, folder, '--json'], third.io)).toBe(0);
    const scan = JSON.parse(third.out());
    expect(scan).toMatchObject({ added: SCAN_LISTED + 1, moved: 1, removed: 1, errors: 0, unreadable: 1 });
    expect(scan.addedPaths).toHaveLength(SCAN_LISTED + 1);
    expect(scan.movedPaths).toEqual([{ from: imageRelPath(0, 1000, 'png'), to: 'moved.png' }]);
    expect(scan.removedPaths).toEqual([imageRelPath(1, 1000, 'png')]);
  });

  it('explains a missing folder argument and a missing folder', async () => {
    const db = join(tempDir(), 'w.db');
    const usage = capture();
    expect(await runIndex(['--db', db], usage.io)).toBe(2);
    expect(usage.err()).toMatch(/missing required argument 'FOLDER'\nUsage: metatpt index/);
    const missing = capture();
    expect(await runIndex(['--db', db, '/no/such/folder'], missing.io)).toBe(1);
    expect(missing.err()).toMatch(/cannot add \/no\/such\/folder/);
  });
});

describe('metatpt status', () => {
  it('lists collections and runs, and shows one run with its failures', async () => {
    const db = join(tempDir(), 'w.db');
    const store = openStore(db);
    const seeded = seedCollection(store, 3);
    const run = createCollectionRun(store, seeded, 'metatpt');
    store.results.recordFailure(run.id, seeded.imageIds[1], 'cannot decode');
    store.importedLabels.replace(seeded.classSet.id, [
      { imageId: seeded.imageIds[0], classOrdinal: 0 },
      { imageId: seeded.imageIds[2], classOrdinal: 1 },
    ]);
    createReviewService({ store }).assign([seeded.imageIds[0]], seeded.classSet.id, 1);
    store.close();

    const overview = capture();
    expect(await runStatus(['--db', db], overview.io)).toBe(0);
    expect(overview.out()).toContain(
      '1  photos  /data/photos  (3 images, 0 errors, 0 missing; 1 reviewed, 2 imported labels)',
    );
    expect(overview.out()).toMatch(/1\s+1\s+metatpt\s+queued\s+0\/3 \(1 failed\)/);

    const detail = capture();
    expect(await runStatus(['--db', db, '--run', String(run.id), '--json'], detail.io)).toBe(0);
    const parsed = JSON.parse(detail.out());
    expect(parsed.run).toMatchObject({ id: run.id, status: 'queued', failed: 1, total: 3 });
    expect(parsed.failedItems).toEqual([
      expect.objectContaining({ relPath: 'img-000001.png', error: 'cannot decode' }),
    ]);

    const unknown = capture();
    expect(await runStatus(['--db', db, '--run', '99'], unknown.io)).toBe(1);
    expect(unknown.err()).toMatch(/run 99 does not exist/);
    const noDb = capture();
    expect(await runStatus(['--db', join(tempDir(), 'typo.db')], noDb.io)).toBe(1);
    expect(noDb.err()).toMatch(/typo\.db: no such database/);
  });
});

describe('metatpt evaluate', () => {
  function evaluatedDb() {
    const db = join(tempDir(), 'w.db');
    const store = openStore(db);
    const { tpt, zeroShot } = seedEvaluatedRuns(store);
    store.close();
    return { db, tpt, zeroShot };
  }

  it('prints one row per run against its zero-shot predictions, and the same numbers as JSON', async () => {
    const { db, tpt, zeroShot } = evaluatedDb();
    const table = capture();
    expect(
      await runEvaluate(['--db', db, '--run', String(tpt.id), '--run', String(zeroShot.id)], table.io),
    ).toBe(0);
    const lines = table.out().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^against all labels; .*ECE over 15 bins$/);
    expect(lines[1]).toMatch(/^ run\s+method\s+labelled\s+accuracy\s+95% CI\s+zero-shot/);
    // Wilson 3 of 5: 23.1–88.2 %; 2 of 5: 11.8–76.9 %.
    expect(lines[2].split(/\s+/).filter(Boolean)).toEqual([
      '1',
      'tpt',
      '5/6',
      '60.0%',
      '23.1–88.2',
      '40.0%',
      '11.8–76.9',
      '2',
      '1',
      '1.000',
      '0.340',
      '0.510',
      '363',
      '13',
    ]);
    expect(lines[3]).toMatch(/^\s+2\s+zeroshot\s+5\/6\s+40\.0%/);

    const json = capture();
    expect(
      await runEvaluate(['--db', db, '--run', String(tpt.id), '--against', 'imported', '--json'], json.io),
    ).toBe(0);
    const [parsed] = JSON.parse(json.out());
    expect(parsed).toMatchObject({ runId: tpt.id, against: 'imported', labelled: 3 });
    expect(parsed.comparison).toMatchObject({ fixed: 2, broken: 0, mcnemarP: 0.5 });
  });

  it('still covers every imported label after the expert accepted a prediction over one', async () => {
    const { db, tpt } = evaluatedDb();
    const store = openStore(db);
    const image = store.grid.query({ collectionId: 1, runId: tpt.id, sort: { key: 'id' } }).items[0];
    createReviewService({ store }).accept([image.imageId], tpt.id);
    store.close();
    const labelled = async (against: string) => {
      const json = capture();
      expect(
        await runEvaluate(['--db', db, '--run', String(tpt.id), '--against', against, '--json'], json.io),
      ).toBe(0);
      return (JSON.parse(json.out()) as { labelled: number }[])[0].labelled;
    };
    expect([await labelled('imported'), await labelled('reviewed'), await labelled('all')]).toEqual([
      3, 3, 5,
    ]);
  });

  it('refuses a bad label kind or a missing run, and notes runs without labels', async () => {
    const { db } = evaluatedDb();
    const kind = capture();
    expect(await runEvaluate(['--db', db, '--run', '1', '--against', 'guessed'], kind.io)).toBe(2);
    expect(kind.err()).toMatch(/--against must be one of all, reviewed, imported/);
    const none = capture();
    expect(await runEvaluate(['--db', db], none.io)).toBe(2);
    expect(none.err()).toMatch(/--run is required/);
    const unknown = capture();
    expect(await runEvaluate(['--db', db, '--run', '7'], unknown.io)).toBe(1);
    expect(unknown.err()).toMatch(/run 7 does not exist/);
  });

  it('is part of status --run N --json', async () => {
    const { db, tpt } = evaluatedDb();
    const detail = capture();
    expect(await runStatus(['--db', db, '--run', String(tpt.id), '--json'], detail.io)).toBe(0);
    expect(JSON.parse(detail.out()).evaluation).toMatchObject({
      against: 'all',
      labelled: 5,
      comparison: { fixed: 2, broken: 1, run: { accuracy: 0.6 }, baseline: { accuracy: 0.4 } },
    });
    const text = capture();
    expect(await runStatus(['--db', db, '--run', String(tpt.id)], text.io)).toBe(0);
    expect(text.out()).toMatch(/\n\s+1\s+tpt\s+5\/6\s+60\.0%/);
  });
});
