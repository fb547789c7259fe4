// Domain facts are declared once, in src/shared/domain: a second list of the adaptation methods
// anywhere in src/ fails here (lists drift apart; the CLI and the app once disagreed this way).
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
});
