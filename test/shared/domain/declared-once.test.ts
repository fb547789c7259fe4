// Domain facts are declared once, in src/shared/domain: a second list of the adaptation methods, the
// image types or the API's enums anywhere in src/ fails here (lists drift apart; the CLI and the app
// once disagreed this way, and four image-extension lists once made index and classify see different
// folders).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../../src', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|vue)$/.test(entry.name) ? [path] : [];
  });
}

/** The files of src/ (relative paths) in which `pattern` occurs. */
function filesMatching(pattern: RegExp): string[] {
  return sourceFiles(SRC)
    .filter((file) => pattern.test(readFileSync(file, 'utf8')))
    .map((file) => relative(SRC, file));
}

describe('declared once', () => {
  it('the adaptation methods: only in shared/domain/adaptation.ts', () => {
    // Two method names in a row, in any order, in an array or a union type.
    const names = `['"](?:zeroshot|tpt|metatpt)['"]`;
    const list = new RegExp(`${names}\\s*[,|]\\s*${names}`);
    expect(filesMatching(list)).toEqual(['shared/domain/adaptation.ts']);
  });

  it('the MetaTPT variants and presets: only in shared/domain/adaptation.ts', () => {
    expect(filesMatching(/['"]two-stage['"]\s*[,|]\s*['"]one-stage['"]/)).toEqual([
      'shared/domain/adaptation.ts',
    ]);
    expect(filesMatching(/['"]paper['"]\s*[,|]\s*['"]fast-cpu['"]/)).toEqual(['shared/domain/adaptation.ts']);
  });

  it('the vision precisions: only in shared/domain/adaptation.ts', () => {
    expect(filesMatching(/['"]fp32['"]\s*[,|]\s*['"]int8['"]/)).toEqual(['shared/domain/adaptation.ts']);
  });

  it('the default prompt template: only in shared/domain/adaptation.ts', () => {
    // The migrations are history: their SQL comment shows the template as it was then.
    const files = filesMatching(/['"]a photo of a \{\}\.['"]/).filter(
      (f) => f !== 'backend/store/migrations.ts',
    );
    expect(files).toEqual(['shared/domain/adaptation.ts']);
  });

  it('the image types: only in shared/domain/image-types.ts', () => {
    // Two image extensions in a row in a list, or an extension mapped to an image media type.
    const extension = `['"]\\.(?:jpe?g|png|webp|gif|tiff?|bmp|avif|heic)['"]`;
    expect(filesMatching(new RegExp(`${extension}\\s*,\\s*${extension}`))).toEqual([
      'shared/domain/image-types.ts',
    ]);
    // serve/static-files.ts maps the renderer build's own assets (icons, fonts), not users' images.
    const mediaTypes = filesMatching(/['"]\.(?:jpe?g|tiff?|avif|heic|bmp)['"]\s*:\s*['"]image\//);
    expect(mediaTypes.filter((f) => f !== 'backend/serve/static-files.ts')).toEqual([]);
  });

  it("the API's enums: only in shared/domain", () => {
    const lists: [RegExp, string][] = [
      [/['"]unreviewed['"]\s*,\s*['"]reviewed['"]/, 'shared/domain/grid.ts'],
      [/['"]zeroShotEntropy['"]\s*,\s*['"]path['"]/, 'shared/domain/grid.ts'],
      [/['"]copy['"]\s*[,|]\s*['"]hardlink['"]/, 'shared/domain/export.ts'],
      [/['"]imagefolder['"]\s*,\s*['"](?:yolo-cls|csv)['"]/, 'shared/domain/export.ts'],
      [/['"]reviewed['"]\s*[,|]\s*['"]predictions['"]/, 'shared/domain/export.ts'],
      [/['"]ok['"]\s*[,|]\s*['"]error['"]\s*[,|]\s*['"]missing['"]/, 'shared/domain/library.ts'],
    ];
    // The migrations' CHECK constraints are the schema's history, written once and never edited.
    const history = 'backend/store/migrations.ts';
    for (const [list, home] of lists)
      expect(
        filesMatching(list).filter((f) => f !== history),
        String(list),
      ).toEqual([home]);
  });
});
