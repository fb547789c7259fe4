import { readFileSync } from 'node:fs';

/** A model file (config, weights, tokenizer, ...) is missing or not what it must be; names the file. */
export class ModelFileError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'ModelFileError';
  }
}

/** Parses a model folder's JSON file, with errors that name it. */
export function readModelJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ModelFileError(
      path,
      code === 'ENOENT' ? 'file not found' : `cannot read (${(err as Error).message})`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ModelFileError(path, `not valid JSON (${(err as Error).message})`);
  }
}
