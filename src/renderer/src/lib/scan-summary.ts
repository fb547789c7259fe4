// A folder scan's outcome in one line, for notices and the Library's last-scan report.
import type { ScanSummary } from '../../../shared/api.js';
import { count } from './format.js';

/**
 * What a scan found, in words: "3 new, 1 changed, 0 moved, 2 removed, 1 unreadable, 4 skipped" —
 * unreadable: image files that could not be decoded; skipped: entries not taken as images (hidden,
 * other file types, links out of the folder, …), listed with why by ScanReport.
 */
export function scanSummaryText(scan: ScanSummary): string {
  return (
    `${count(scan.added)} new, ${count(scan.changed)} changed, ${count(scan.moved)} moved, ` +
    `${count(scan.removed)} removed, ${count(scan.errors)} unreadable, ${count(scan.skippedCount)} skipped`
  );
}
