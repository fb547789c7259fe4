// ImageNet class names as used for CLIP zero-shot evaluation (from OpenAI CLIP's prompt-engineering
// notebook, MIT licence), copied to test/fixtures/imagenet_classes.json: a realistic class set for
// text-side costs, whose token lengths decide how much trimming saves.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const IMAGENET_CLASSES_FILE = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'test',
  'fixtures',
  'imagenet_classes.json',
);

/** The 1000 ImageNet class names in their usual order. */
export function imagenetClassNames(file = IMAGENET_CLASSES_FILE): string[] {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { imagenet_classes?: unknown };
  const names = parsed.imagenet_classes;
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) {
    throw new Error(`${file}: expected "imagenet_classes" to be a list of strings`);
  }
  return names;
}
