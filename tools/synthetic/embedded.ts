// Where the shipped model and demo collection live in the repository, and how their class set is read.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The embedded CLIP model trained on the procedural domain (scripts/train-embedded-model.ts). */
export const EMBEDDED_MODEL_DIR = fileURLToPath(
  new URL('../../resources/models/shapes-clip-v2', import.meta.url),
);

/** The demo collection (scripts/make-demo-collection.ts): images/, classes.txt, ground-truth.csv. */
export const DEMO_COLLECTION_DIR = fileURLToPath(new URL('../../resources/demo', import.meta.url));

/** Class names, one per line; blank lines and lines starting with # are ignored. */
export function readClassesFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${path}: cannot read the class set (${(err as Error).message})`);
  }
  const classes = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  if (classes.length === 0) throw new Error(`${path}: the class set is empty`);
  const duplicate = classes.find((name, i) => classes.indexOf(name) !== i);
  if (duplicate) throw new Error(`${path}: class "${duplicate}" is listed twice`);
  return classes;
}
