// Kinds 3 and 4 of issue 13: labels made elsewhere are matched by one normalisation rule and by
// content, every value that matched nothing is named, and Label Studio's own export files import
// directly (cases 09-csv-import-variants and 11-labelstudio-native-json).
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanCollection } from '../../../src/backend/library/indexer.js';
import { openStore } from '../../../src/backend/store/index.js';
import { tempDir } from '../helpers.js';
import { CASES, metatpt } from '../../cases.js';

const CASE_09 = join(CASES, '09-csv-import-variants');
const CASE_11 = join(CASES, '11-labelstudio-native-json');

let base: string;

/** A database whose collection 1 is case 09's four photos and whose class set is its classes.txt. */
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'imports-'));
  cpSync(join(CASE_09, 'photos'), join(dir, 'photos'), { recursive: true });
  base = join(dir, 'base.db');
  const store = openStore(base);
  const collection = store.collections.create(join(dir, 'photos'), 'photos');
  await scanCollection(store, collection.id);
  store.classSets.create({
    name: 'classes',
    template: 'a photo of a {}.',
    contextInit: 'a photo of a',
    classes: ['heart', 'hexagon', 'star', 'café'].map((name) => ({ name, prompt: null })),
  });
  store.close();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `metatpt import --json` on a fresh copy of the base database. */
async function runImport(format: string, source: string) {
  const db = join(tempDir('import-db-'), 'w.db');
  cpSync(base, db);
  const {
    code,
    out: stdout,
    err,
  } = await metatpt([...['import', '--db', db, '--collection', '1', '--format', format, '--json', source]]);
  return {
    code,
    stderr: err,
    result: stdout
      ? (JSON.parse(stdout) as {
          read: number;
          applied: number;
          unknownLabels: { label: string; count: number }[];
          unmatchedFiles: { path: string; reason: string }[];
          warnings: string[];
        })
      : null,
  };
}

describe('importing labels (case 09)', () => {
  it.each([
    ['a_excel_bom_crlf.csv', 4],
    ['b_excel_semicolon.csv', 4],
    ['c_trailing_space.csv', 4],
    ['d_case.csv', 4],
    ['e_nfd.csv', 4],
    ['f_windows_paths.csv', 4],
    ['g_labelstudio_export.csv', 4],
    ['g2_labelstudio_export_renamed.csv', 4],
    ['h_utf16.csv', 4],
  ])('%s applies %i labels', async (file, applied) => {
    const { code, result, stderr } = await runImport('csv', join(CASE_09, file));
    expect(code, stderr).toBe(0);
    expect(result).toMatchObject({ read: 4, applied, unknownLabels: [], unmatchedFiles: [] });
  });

  it('refuses a Latin-1 CSV naming the byte offset', async () => {
    const { code, stderr } = await runImport('csv', join(CASE_09, 'i_latin1.csv'));
    expect(code).toBe(1);
    expect(stderr).toMatch(/i_latin1\.csv: not valid UTF-8 at byte 31 \(line 2\)/);
  });

  it('reads a macOS (NFD) class-folder tree', async () => {
    const { code, result } = await runImport('imagefolder', join(CASE_09, 'macos_tree'));
    expect(code).toBe(0);
    expect(result).toMatchObject({ read: 3, applied: 3, unknownLabels: [] });
  });

  it('matches a file renamed by another tool by its content', async () => {
    const tree = tempDir('roboflow-');
    mkdirSync(join(tree, 'train', 'star'), { recursive: true });
    cpSync(join(CASE_09, 'photos', 'img3.webp'), join(tree, 'train', 'star', 'img3_webp.rf.3f2a1b9c0d.webp'));
    const { code, result } = await runImport('imagefolder', tree);
    expect(code).toBe(0);
    expect(result).toMatchObject({ read: 1, applied: 1 });
  });

  it('names every unknown label and unmatched file, and exits 1 when nothing applied', async () => {
    const csv = join(tempDir('unknown-'), 'u.csv');
    writeFileSync(csv, 'path,label\nimg1.webp,ring\nimg2.webp,ring\nnowhere.webp,heart\n');
    const { code, result, stderr } = await runImport('csv', csv);
    expect(code).toBe(1);
    expect(stderr).toMatch(/no label of .*u\.csv was applied/);
    expect(result!.unknownLabels).toEqual([{ label: 'ring', count: 2 }]);
    expect(result!.unmatchedFiles).toEqual([
      { path: 'nowhere.webp', reason: 'no image with this path or file name' },
    ]);
    expect(result!.warnings.join('\n')).toMatch(/"ring"/);
    expect(result!.warnings.join('\n')).toMatch(/nowhere\.webp/);
  });
});

describe('Label Studio export files (case 11)', () => {
  it('imports its JSON export with predictions as integer ids', async () => {
    const file = join(CASE_11, 'ls-native-export-with-prediction-ids.json');
    const { code, result, stderr } = await runImport('labelstudio', file);
    expect(code, stderr).toBe(0);
    expect(result).toMatchObject({ read: 4, applied: 4 });
  });

  it('imports an export file passed to --format export (no ENOTDIR)', async () => {
    const { code, result } = await runImport('export', join(CASE_11, 'project-1-at-2024-05-01.json'));
    expect(code).toBe(0);
    expect(result).toMatchObject({ read: 2, applied: 2 });
  });

  it('imports our export folder after a round trip through Label Studio', async () => {
    const { code, result } = await runImport('export', join(CASE_11, 'exp-ls'));
    expect(code).toBe(0);
    expect(result).toMatchObject({ read: 4, applied: 4 });
  });

  it('imports JSON_MIN', async () => {
    const file = join(tempDir('min-'), 'min.json');
    writeFileSync(
      file,
      JSON.stringify([
        { id: 1, image: '/data/local-files/?d=photos/img3.webp', choice: 'star', annotator: 1 },
        { id: 2, image: '/data/upload/1/c0ffee00-img4.webp', choice: { choices: ['hexagon'] } },
      ]),
    );
    const { code, result } = await runImport('labelstudio', file);
    expect(code).toBe(0);
    expect(result).toMatchObject({ read: 2, applied: 2 });
  });
});
