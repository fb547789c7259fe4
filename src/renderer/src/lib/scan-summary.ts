// A folder scan's outcome in one line, for notices and the Library's last-scan report.
import type { ScanSummary } from '../../../shared/api.js';
import { count } from './format.js';

/**
 * What a scan found, in words: "3 new, 1 changed, 0 moved, 2 removed, 2 unreadable (1 new this scan),
 * 4 skipped" — unreadable: the collection's images that cannot be decoded as of this scan, of which
 * "new this scan" were read (new or changed files) and failed in it; skipped: entries not taken as
 * images (hidden, other file types, links out of the folder, …). ScanReport names each.
 */
export function scanSummaryText(scan: ScanSummary): string {
  const unreadable =
    scan.unreadable === 0
      ? '0 unreadable'
      : `${count(scan.unreadable)} unreadable (${count(scan.errors)} new this scan)`;
  return (
    `${count(scan.added)} new, ${count(scan.changed)} changed, ${count(scan.moved)} moved, ` +
    `${count(scan.removed)} removed, ${unreadable}, ${count(scan.skippedCount)} skipped`
  );
}
