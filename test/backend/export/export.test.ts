import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  exportDataset,
  importFromExport,
  type ExportFormat,
  type ExportItem,
  type ExportOptions,
  type ExportProgress,
} from '../../../src/backend/export/index.js';
import { listFiles, makeItems, makeTempDir, type ItemSpec } from './fixtures.js';
import { labelStudioTasks } from './label-studio-schema.js';

const HOSTILE_CLASSES = ['../x', 'a/b', 'CON', 'nul.txt', 'x.', ' ', 'Cat', 'cat', '🐱', 'l'.repeat(300)];

const SPECS: ItemSpec[] = [
  // Same file name in two folders, same class: a collision inside one class folder.
  { relativePath: 'a/x.png', label: 'cat' },
  { relativePath: 'b/x.png', label: 'cat', source: 'accepted', confidence: 0.91 },
  ...Array.from({ length: 8 }, (_, i) => ({ relativePath: `cats/c${i}.png`, label: 'cat' })),
  ...Array.from({ length: 6 }, (_, i) => ({
    relativePath: `dogs/d${i}.png`,
    label: 'dog',
    source: i % 2 === 0 ? ('predicted' as const) : ('imported' as const),
    confidence: 0.6 + i * 0.05,
    probs: { dog: 0.6 + i * 0.05, cat: 0.4 - i * 0.05 },
  })),
  ...HOSTILE_CLASSES.map((label, i) => ({ relativePath: `hostile/h${i}.png`, label })),
  { relativePath: 'u/unlabeled1.png', label: null },
  { relativePath: 'u/unlabeled2.png', label: null },
];

const MANIFEST = {
  app: { name: 'MetaTPT Workbench', version: '0.1.0' },
  createdAt: '2025-01-01T00:00:00.000Z',
  model: { name: 'clip-vit-b32' },
  method: 'metatpt',
  classSet: {
    name: 'pets',
    classes: [{ name: 'cat', prompt: 'a photo of a cat' }],
    template: 'a photo of a {}',
  },
  runId: 3,
};

let work: string;
let items: ExportItem[];

beforeAll(async () => {
  work = await makeTempDir('export');
  items = await makeItems(path.join(work, 'collection'), SPECS);
});

afterAll(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

let exportCounter = 0;
function options(format: ExportFormat, extra: Partial<ExportOptions> = {}): ExportOptions {
  exportCounter++;
  return {
    format,
    outDir: path.join(work, 'out', `${format}-${exportCounter}`),
    manifest: MANIFEST,
    ...extra,
  };
}

function expectedLabels(): { relativePath: string; label: string }[] {
  return items
    .filter((i) => i.label !== null)
    .map((i) => ({ relativePath: i.relativePath, label: i.label! }))
    .sort((a, b) => a.relativePath.localeCompare(b.relativePath));
}

function pathsAndLabels(labels: { relativePath: string; label: string }[]) {
  return labels
    .map(({ relativePath, label }) => ({ relativePath, label }))
    .sort((a, b) => a.relativePath.localeCompare(b.relativePath));
}

async function readJson(file: string): Promise<unknown> {
  return JSON.parse(await fs.readFile(file, 'utf8'));
}

describe('round trips: export, then importFromExport, gives back every label', () => {
  const cases: [ExportFormat, Partial<ExportOptions>][] = [
    ['imagefolder', {}],
    ['imagefolder', { split: { train: 0.6, val: 0.2, test: 0.2, seed: 5 }, unlabeled: 'folder' }],
    ['yolo-cls', {}],
    ['yolo-cls', { split: { train: 0.5, val: 0.25, test: 0.25, seed: 1 }, link: 'symlink' }],
    ['csv', {}],
    ['csv', { split: { train: 0.8, val: 0.2, seed: 2 }, unlabeled: 'folder', link: 'hardlink' }],
    ['jsonl', { unlabeled: 'folder' }],
    ['hf-imagefolder', {}],
    ['hf-imagefolder', { split: { train: 0.7, val: 0.3, seed: 3 }, unlabeled: 'folder', hfMetadata: 'csv' }],
    ['labelstudio', { unlabeled: 'folder' }],
  ];
  it.each(cases)('%s %j', async (format, extra) => {
    const { outDir, manifest } = await exportDataset(items, options(format, extra));
    const imported = await importFromExport(outDir);
    expect(imported.warnings).toEqual([]);
    expect(pathsAndLabels(imported.labels)).toEqual(expectedLabels());
    // Every image the manifest lists is there, and nothing else but the format's own files.
    const files = await listFiles(outDir);
    for (const file of manifest.files) expect(files).toContain(file.path);
    expect(manifest.files.length).toBe(extra.unlabeled === 'folder' ? items.length : items.length - 2);
  });
});

describe('layouts', () => {
  it('imagefolder puts each class in a sanitised folder and resolves file-name collisions in path order', async () => {
    const { outDir, manifest } = await exportDataset(items, options('imagefolder'));
    const files = await listFiles(outDir);
    // "Cat" sorts before "cat", so "cat" is the one that gets the suffix.
    expect(files).toContain('cat__2/x.png');
    expect(files).toContain('cat__2/x__2.png');
    expect(manifest.files).toContainEqual({ path: 'cat__2/x.png', sourceRelativePath: 'a/x.png' });
    expect(manifest.files).toContainEqual({ path: 'cat__2/x__2.png', sourceRelativePath: 'b/x.png' });
    // Hostile names became safe, distinct folders, mapped back in the manifest.
    const topFolders = new Set(files.map((f) => f.split('/')[0]));
    expect(topFolders.has('..')).toBe(false);
    expect(manifest.classFolders['_CON']).toBe('CON');
    expect(manifest.classFolders['_nul.txt']).toBe('nul.txt');
    expect(manifest.classFolders['a_b']).toBe('a/b');
    expect(manifest.classFolders['x']).toBe('x.');
    expect(manifest.classFolders['Cat']).toBe('Cat');
    expect(manifest.classFolders['cat__2']).toBe('cat');
    expect(Object.values(manifest.classFolders).sort()).toEqual(
      [...new Set([...HOSTILE_CLASSES, 'cat', 'dog'])].sort(),
    );
    expect(files.filter((f) => f.startsWith('_unlabeled/'))).toEqual([]);
    expect(manifest.counts).toEqual({
      reviewed: 19,
      accepted: 1,
      predicted: 3,
      imported: 3,
      unlabeled: 0,
      omittedUnlabeled: 2,
    });
    expect(manifest).toMatchObject({
      kind: 'metatpt-export',
      format: 'imagefolder',
      runId: 3,
      method: 'metatpt',
    });
  });

  it('yolo-cls without a split uses 0.8/0.2 and says so in the manifest', async () => {
    const { outDir, manifest } = await exportDataset(items, options('yolo-cls'));
    const files = await listFiles(outDir);
    expect(new Set(files.map((f) => f.split('/')[0]))).toEqual(new Set(['train', 'val', 'manifest.json']));
    // 11 cats (10 plus the hostile "cat"): 8.8 rounds to 9 for training.
    expect(files.filter((f) => f.startsWith('train/cat__2/')).length).toBe(9);
    expect(files.filter((f) => f.startsWith('val/cat__2/')).length).toBe(2);
    expect(manifest.options.split).toEqual({ train: 0.8, val: 0.2, seed: 0 });
    expect(manifest.notes.join(' ')).toMatch(/held-out split/);
  });

  it('csv lists every image with a path relative to the CSV, readable by a CSV parser', async () => {
    const { outDir } = await exportDataset(
      items,
      options('csv', { unlabeled: 'folder', split: { train: 0.5, val: 0.5, seed: 9 } }),
    );
    const text = await fs.readFile(path.join(outDir, 'labels.csv'), 'utf8');
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0]).slice(0, 6)).toEqual([
      'path',
      'label',
      'confidence',
      'source',
      'split',
      'source_path',
    ]);
    expect(Object.keys(rows[0])).toContain('prob_dog');
    expect(rows.length).toBe(items.length);
    for (const row of rows) {
      await expect(fs.stat(path.join(outDir, row.path))).resolves.toBeTruthy();
      expect(row.path.startsWith('images/')).toBe(true);
    }
    const accepted = rows.find((r) => r.source_path === 'b/x.png')!;
    expect(accepted).toMatchObject({ label: 'cat', confidence: '0.91', source: 'accepted' });
    const unlabeled = rows.find((r) => r.source_path === 'u/unlabeled1.png')!;
    expect(unlabeled).toMatchObject({
      path: 'images/_unlabeled/unlabeled1.png',
      label: '',
      source: '',
      split: '',
    });
    // Class names with commas, quotes or newlines survive because a CSV library writes the file.
    expect(rows.map((r) => r.label)).toContain('../x');
  });

  it('hf-imagefolder puts a metadata file in each split folder with file_name relative to it', async () => {
    const { outDir } = await exportDataset(
      items,
      options('hf-imagefolder', { split: { train: 0.6, val: 0.2, test: 0.2, seed: 4 } }),
    );
    const files = await listFiles(outDir);
    for (const area of ['train', 'validation', 'test']) {
      const lines = (await fs.readFile(path.join(outDir, area, 'metadata.jsonl'), 'utf8')).trim().split('\n');
      const rows = lines.map(
        (l) => JSON.parse(l) as { file_name: string; label: string; confidence: number },
      );
      const listed = rows.map((r) => `${area}/${r.file_name}`).sort();
      const images = files.filter((f) => f.startsWith(`${area}/`) && f.endsWith('.png'));
      expect(listed).toEqual(images);
      for (const row of rows) expect(typeof row.label).toBe('string');
    }
    expect(files).not.toContain('metadata.jsonl');
    // No class folder may look like a split to the datasets library.
    expect(files.some((f) => /^(train|validation|test)\/(train|test|val|validation)\//.test(f))).toBe(false);
  });

  it('labelstudio writes tasks in the documented shape: people as annotations, the model as predictions', async () => {
    const { outDir } = await exportDataset(items, options('labelstudio', { unlabeled: 'folder' }));
    const tasks = labelStudioTasks.parse(await readJson(path.join(outDir, 'tasks.json')));
    expect(tasks.length).toBe(items.length);
    const bySource = (p: string) => tasks.find((t) => t.data.source_path === p)!;
    const human = bySource('a/x.png');
    expect(human.annotations?.[0].result[0].value.choices).toEqual(['cat']);
    expect(human.predictions).toEqual([]);
    const predicted = bySource('dogs/d0.png');
    expect(predicted.annotations).toEqual([]);
    expect(predicted.predictions?.[0]).toMatchObject({ model_version: 'clip-vit-b32/metatpt', score: 0.6 });
    expect(predicted.predictions?.[0].result[0].value.choices).toEqual(['dog']);
    const imported = bySource('dogs/d1.png');
    expect(imported.annotations?.[0].result[0].value.choices).toEqual(['dog']);
    expect(imported.predictions?.[0].result[0].value.choices).toEqual(['dog']);
    // Without a document root given, the URLs are relative to the folder holding the export.
    for (const task of tasks) {
      expect(task.data.image).toMatch(/^\/data\/local-files\/\?d=/);
      const below = decodeURIComponent(task.data.image.slice('/data/local-files/?d='.length));
      await expect(fs.stat(path.join(path.dirname(outDir), below))).resolves.toBeTruthy();
    }
    const config = await fs.readFile(path.join(outDir, 'label_config.xml'), 'utf8');
    expect(config).toMatch(/<Image name="image" value="\$image"\/>/);
    expect(config).toMatch(/<Choices name="choice" toName="image"[^>]*>\s*<Choice value="cat"\/>/);
  });

  it('labelstudio points at Label Studio local files when given its document root', async () => {
    const root = path.join(work, 'out');
    const opts = options('labelstudio', { labelStudioDocumentRoot: root });
    const { outDir } = await exportDataset(items.slice(0, 2), opts);
    const tasks = labelStudioTasks.parse(await readJson(path.join(outDir, 'tasks.json')));
    expect(tasks[0].data.image).toBe(`/data/local-files/?d=${path.basename(outDir)}/images/cat/x.png`);
    const outside = options('labelstudio', { labelStudioDocumentRoot: path.join(work, 'collection') });
    await expect(exportDataset(items, outside)).rejects.toThrow(
      /outDir must be inside labelStudioDocumentRoot/,
    );
  });
});

describe('safety', () => {
  it('refuses a non-empty target and names it', async () => {
    const outDir = path.join(work, 'occupied');
    await fs.mkdir(outDir);
    await fs.writeFile(path.join(outDir, 'keep.txt'), 'mine');
    await expect(exportDataset(items, { ...options('csv'), outDir })).rejects.toThrow(
      `Export target ${outDir} is not empty`,
    );
    expect(await fs.readdir(outDir)).toEqual(['keep.txt']);
    const file = path.join(work, 'a-file');
    await fs.writeFile(file, 'x');
    await expect(exportDataset(items, { ...options('csv'), outDir: file })).rejects.toThrow(/is a file/);
  });

  it('exports into an existing empty folder', async () => {
    const outDir = path.join(work, 'empty-target');
    await fs.mkdir(outDir);
    await exportDataset(items, { ...options('jsonl'), outDir });
    expect(await fs.readdir(outDir)).toContain('labels.jsonl');
  });

  it('leaves nothing behind when cancelled part-way, not even parent folders it created', async () => {
    const parent = path.join(work, 'cancel');
    await fs.mkdir(parent);
    const outDir = path.join(parent, 'new', 'deeper', 'export');
    const controller = new AbortController();
    const seen: ExportProgress[] = [];
    const run = exportDataset(
      items,
      { ...options('imagefolder'), outDir, concurrency: 2 },
      {
        signal: controller.signal,
        onProgress: (p) => {
          seen.push(p);
          if (p.done === 5) controller.abort();
        },
      },
    );
    await expect(run).rejects.toThrow(/abort/i);
    expect(seen.length).toBeGreaterThanOrEqual(5);
    expect(seen.length).toBeLessThan(seen[0].total);
    expect(await fs.readdir(parent)).toEqual([]);
  });

  it('leaves nothing behind when a file fails, and names the file', async () => {
    const parent = path.join(work, 'fail');
    await fs.mkdir(parent);
    const missing = { ...items[3], sourcePath: path.join(work, 'nowhere.png'), relativePath: 'nowhere.png' };
    const run = exportDataset([...items, missing], {
      ...options('csv'),
      outDir: path.join(parent, 'export'),
    });
    await expect(run).rejects.toThrow(/nowhere\.png/);
    expect(await fs.readdir(parent)).toEqual([]);
  });

  it('reports progress up to the total', async () => {
    const seen: ExportProgress[] = [];
    await exportDataset(items, options('imagefolder'), { onProgress: (p) => seen.push(p) });
    expect(seen.at(-1)).toMatchObject({ done: items.length - 2, total: items.length - 2 });
    expect(new Set(seen.map((p) => p.currentFile)).size).toBe(items.length - 2);
  });

  it('rejects invalid input with a clear error', async () => {
    await expect(exportDataset([items[0], items[0]], options('csv'))).rejects.toThrow(
      /"a\/x.png" is listed twice/,
    );
    await expect(exportDataset([{ ...items[0], source: null }], options('csv'))).rejects.toThrow(
      /label and source/,
    );
    await expect(
      exportDataset(items, options('csv', { split: { train: 0.5, val: 0.1, seed: 0 } })),
    ).rejects.toThrow(/add up to 1/);
    await expect(exportDataset(items, { ...options('csv'), outDir: 'relative/dir' })).rejects.toThrow(
      /absolute/,
    );
  });
});

describe('link modes', () => {
  it('hardlink shares the inode with the source', async () => {
    const { outDir, manifest } = await exportDataset(items, options('imagefolder', { link: 'hardlink' }));
    const first = manifest.files[0];
    const source = items.find((i) => i.relativePath === first.sourceRelativePath)!.sourcePath;
    const [a, b] = await Promise.all([fs.stat(path.join(outDir, first.path)), fs.stat(source)]);
    expect(a.ino).toBe(b.ino);
    expect(b.nlink).toBeGreaterThanOrEqual(2);
  });

  it('symlink points at the absolute source path', async () => {
    const { outDir, manifest } = await exportDataset(items, options('imagefolder', { link: 'symlink' }));
    for (const file of manifest.files) {
      const target = path.join(outDir, file.path);
      expect((await fs.lstat(target)).isSymbolicLink()).toBe(true);
      expect(await fs.readlink(target)).toBe(
        items.find((i) => i.relativePath === file.sourceRelativePath)!.sourcePath,
      );
    }
  });

  it('copy makes independent files with the same bytes', async () => {
    const { outDir, manifest } = await exportDataset(items.slice(0, 3), options('imagefolder'));
    const file = manifest.files[0];
    const source = items.find((i) => i.relativePath === file.sourceRelativePath)!.sourcePath;
    const [a, b] = await Promise.all([fs.stat(path.join(outDir, file.path)), fs.stat(source)]);
    expect(a.ino).not.toBe(b.ino);
    expect(await fs.readFile(path.join(outDir, file.path))).toEqual(await fs.readFile(source));
  });
});

describe('split at export', () => {
  it('is stratified and the same for the same seed', async () => {
    const split = { train: 0.5, val: 0.5, seed: 11 };
    const first = await exportDataset(items, options('csv', { split }));
    const second = await exportDataset(items, options('csv', { split }));
    const rowsOf = async (dir: string) =>
      (
        parse(await fs.readFile(path.join(dir, 'labels.csv'), 'utf8'), { columns: true }) as Record<
          string,
          string
        >[]
      ).map((r) => [r.source_path, r.split]);
    const a = await rowsOf(first.outDir);
    expect(a).toEqual(await rowsOf(second.outDir));
    const cats = a.filter(([p]) => p.startsWith('cats/') || p.endsWith('/x.png'));
    expect(cats.filter(([, s]) => s === 'train').length).toBe(5);
    expect(cats.filter(([, s]) => s === 'val').length).toBe(5);
  });
});
