// Acceptance test of issue 13: a folder holding every kind of fault (hostile-folder.ts) through
// classify, index + run, import and export: no crash, no silent drop, every problem named.
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { EMBEDDED_MODEL, metatpt } from '../../cases.js';
import { makeHostileFolder } from './hostile-folder.js';

const nfc = (path: string) => path.normalize('NFC');
const jsonLines = (text: string) =>
  text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('the hostile folder', () => {
  it('goes through classify, index + run, import and export with every entry accounted for', async () => {
    const parent = tempDir('hostile-');
    const { root, expected } = makeHostileFolder(parent, tempDir('hostile-outside-'));
    const entries = Object.keys(expected).sort();

    // classify: one line per entry, a result, an error or a skip, each with its reason.
    const classified = await metatpt([
      ...[
        'classify',
        '--model',
        EMBEDDED_MODEL,
        '--classes',
        'heart,star',
        '--device',
        'cpu',
        '--json',
        root,
      ],
    ]);
    expect(classified.code, classified.err).toBe(0);
    const lines = jsonLines(classified.out);
    const byEntry = new Map(lines.map((line) => [nfc(relative(root, String(line.path))), line]));
    expect([...byEntry.keys()].sort()).toEqual(entries);
    for (const [entry, want] of Object.entries(expected)) {
      const line = byEntry.get(entry)!;
      if ('result' in want) expect(line.label, entry).toMatch(/heart|star/);
      else if ('error' in want) expect(line.error, entry).toMatch(want.error);
      else expect(line.skipped, entry).toBe(want.skipped);
    }
    expect(classified.err).toMatch(/4 of 10 images could not be classified/);

    // index: images (with results to come or errors named) and skipped entries cover the folder.
    const db = join(parent, 'w.db');
    const indexed = await metatpt(['index', '--db', db, '--json', root]);
    expect(indexed.code, indexed.err).toBe(0);
    const scan = JSON.parse(indexed.out) as {
      added: number;
      errors: number;
      failed: { path: string; error: string }[];
      skipped: { path: string; reason: string }[];
    };
    const errorEntries = entries.filter((e) => 'error' in expected[e]);
    const skippedEntries = entries.filter((e) => 'skipped' in expected[e]);
    expect(scan.added).toBe(10);
    expect(scan.failed.map((f) => nfc(f.path)).sort()).toEqual(errorEntries);
    expect(scan.skipped.map((s) => [nfc(s.path), s.reason]).sort()).toEqual(
      skippedEntries.map((e) => [e, (expected[e] as { skipped: string }).skipped]),
    );

    // run: finishes; the unreadable images are named as left out.
    const ran = await metatpt([
      ...['run', '--db', db, '--collection', '1', '--model', EMBEDDED_MODEL, '--device', 'cpu'],
      ...['--classes', 'heart,star', '--json'],
    ]);
    expect(ran.code, ran.err).toBe(0);
    expect(JSON.parse(ran.out.trim().split('\n').pop()!)).toMatchObject({
      status: 'done',
      done: 6,
      failed: 0,
    });
    expect(ran.err).toMatch(/4 images of the collection are left out/);
    for (const entry of errorEntries.filter((e) => !e.includes('é'))) expect(ran.err).toContain(entry);

    // import: normalised labels apply; the one naming no class is named.
    const csv = join(parent, 'labels.csv');
    writeFileSync(csv, 'path;label\r\nstar.webp;Star \r\ncafe\u0301.webp;heart\r\nIMG_0003.Png;ring\r\n');
    const imported = await metatpt([
      'import',
      '--db',
      db,
      '--collection',
      '1',
      '--format',
      'csv',
      '--json',
      csv,
    ]);
    expect(imported.code, imported.err).toBe(0);
    expect(JSON.parse(imported.out)).toMatchObject({
      applied: 2,
      unknownLabels: [{ label: 'ring', count: 1 }],
    });

    // export: refused inside the collection; outside, the notes say what was written.
    const inside = await metatpt([
      ...['export', '--db', db, '--run', '1', '--format', 'yolo-cls', '--out', join(root, 'dataset')],
    ]);
    expect(inside.code).toBe(1);
    expect(inside.err).toMatch(/inside collection 1 .* choose a folder outside it/);
    const outside = await metatpt([
      ...[
        'export',
        '--db',
        db,
        '--run',
        '1',
        '--format',
        'yolo-cls',
        '--include',
        'predictions',
        '--out',
        join(parent, 'dataset'),
        '--json',
      ],
    ]);
    expect(outside.code, outside.err).toBe(0);
    const { notes, counts } = JSON.parse(outside.out) as { notes: string[]; counts: Record<string, number> };
    expect(counts.predicted + counts.imported).toBe(6);
    expect(notes.join('\n')).toMatch(/split written: train \d+, val \d+, test 0 images/);
  });
});
