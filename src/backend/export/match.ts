// Matching imported labels to a collection's images: by relative path, then by content hash (a file
// renamed by another tool, e.g. Roboflow's `x_jpg.rf.<hash>.webp`, is still the same bytes), then by
// file name (with the content hash deciding, or confirming, when one is known on both sides).
import path from 'node:path';
import { groupBy } from './group-by.js';
import type { ImportedLabel } from './types.js';

export interface CollectionImage<Id> {
  id: Id;
  relativePath: string;
  contentHash?: string | null;
}

export interface LabelMatch<Id> {
  imageId: Id;
  label: string;
  imported: ImportedLabel;
  matchedBy: 'path' | 'hash' | 'name+hash' | 'name';
}

export interface MatchResult<Id> {
  matches: LabelMatch<Id>[];
  unmatched: { imported: ImportedLabel; reason: string }[];
  warnings: string[];
}

function normalizePath(relativePath: string): string {
  return relativePath.replaceAll('\\', '/').replace(/^\.\//, '').normalize('NFC');
}

function fileName(relativePath: string): string {
  return path.posix.basename(normalizePath(relativePath));
}

/** Among images with the imported file's name, the one it is; or why none can be chosen. */
function pickByName<Id>(
  imported: ImportedLabel,
  candidates: CollectionImage<Id>[],
): { image: CollectionImage<Id>; by: 'name+hash' | 'name' } | { reason: string } {
  if (candidates.length === 0) return { reason: 'no image with this path or file name' };
  if (imported.contentHash) {
    const hashed = candidates.filter((image) => image.contentHash);
    const same = hashed.filter((image) => image.contentHash === imported.contentHash);
    if (same.length === 1) return { image: same[0], by: 'name+hash' };
    if (same.length > 1) return { reason: `${same.length} images have this file name and content` };
    if (hashed.length === candidates.length)
      return { reason: 'images with this file name have different content' };
  }
  if (candidates.length === 1) return { image: candidates[0], by: 'name' };
  return { reason: `${candidates.length} images have this file name; cannot tell which` };
}

/**
 * Finds each imported label's image: the same relative path first; then the one image with the same
 * content (when the import knows its hash); otherwise the same file name,
 * where a content hash on both sides must agree and picks between several images of that name.
 * When two imported labels land on one image, the first wins and the rest are reported.
 */
export function matchImportedLabels<Id>(
  labels: readonly ImportedLabel[],
  images: readonly CollectionImage<Id>[],
): MatchResult<Id> {
  const byPath = new Map(images.map((image) => [normalizePath(image.relativePath), image]));
  const byName = groupBy(images, (image) => fileName(image.relativePath));
  const byHash = groupBy(
    images.filter((image) => image.contentHash),
    (image) => image.contentHash!,
  );
  const labelOf = new Map<Id, string>();
  const result: MatchResult<Id> = { matches: [], unmatched: [], warnings: [] };
  let conflicts = 0;

  for (const imported of labels) {
    const exact = byPath.get(normalizePath(imported.relativePath));
    const sameBytes = imported.contentHash ? (byHash.get(imported.contentHash) ?? []) : [];
    const picked = exact
      ? { image: exact, by: 'path' as const }
      : sameBytes.length === 1
        ? { image: sameBytes[0], by: 'hash' as const }
        : pickByName(imported, byName.get(fileName(imported.relativePath)) ?? []);
    if ('reason' in picked) {
      result.unmatched.push({ imported, reason: picked.reason });
      continue;
    }
    const earlier = labelOf.get(picked.image.id);
    if (earlier !== undefined) {
      if (earlier !== imported.label) conflicts++;
      result.unmatched.push({ imported, reason: `image ${picked.image.relativePath} was already matched` });
      continue;
    }
    labelOf.set(picked.image.id, imported.label);
    result.matches.push({ imageId: picked.image.id, label: imported.label, imported, matchedBy: picked.by });
  }
  if (conflicts > 0)
    result.warnings.push(`${conflicts} images got conflicting labels; the first one was kept`);
  if (result.unmatched.length > 0)
    result.warnings.push(`${result.unmatched.length} imported labels matched no image`);
  return result;
}
