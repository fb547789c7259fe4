// @vitest-environment happy-dom
import { mount } from '@vue/test-utils';
import { describe, expect, it } from 'vitest';
import ScanReport from '../../src/renderer/src/components/ScanReport.vue';
import type { ScanSummary } from '../../src/shared/api.js';

const scan = (over: Partial<ScanSummary> = {}): ScanSummary => ({
  collectionId: 1,
  added: 3,
  changed: 1,
  unchanged: 10,
  errors: 1,
  removed: 2,
  moved: 1,
  durationMs: 40,
  addedPaths: ['a.jpg', 'b.jpg'],
  changedPaths: ['c.jpg'],
  movedPaths: [{ from: 'old/d.jpg', to: 'new/d.jpg' }],
  removedPaths: ['e.jpg', 'f.jpg'],
  unreadable: 2,
  failed: [
    { path: 'broken.jpg', error: 'VipsJpeg: premature end of JPEG file' },
    { path: 'old-broken.png', error: 'Input buffer contains unsupported image format' },
  ],
  skippedCount: 5,
  skipped: [
    { path: 'notes.txt', reason: 'not-an-image' },
    { path: 'shared', reason: 'link-outside-folder', detail: '/mnt/elsewhere' },
  ],
  ...over,
});

const rows = (report: ReturnType<typeof mount>, kind: string) =>
  report.findAll(`[data-testid="scan-${kind}"]`).map((row) => row.text());

describe('ScanReport', () => {
  it('sums the scan up in one line and names every entry it left out, with why', () => {
    const report = mount(ScanReport, { props: { scan: scan() } });
    // Unreadable: the collection's, as of this scan; one of them found by this scan.
    expect(report.get('summary').text()).toBe(
      'Last scan: 3 new, 1 changed, 1 moved, 2 removed, 2 unreadable (1 new this scan), 5 skipped',
    );
    expect(rows(report, 'failed')).toEqual([
      'broken.jpgcould not be read: VipsJpeg: premature end of JPEG file',
      'old-broken.pngcould not be read: Input buffer contains unsupported image format',
    ]);
    expect(rows(report, 'skipped')).toEqual([
      'notes.txtnot an image file type (by its extension)',
      'sharedsymbolic link to a place outside the folder (not followed by default) (/mnt/elsewhere)',
    ]);
    // Five were skipped, two listed: the rest are counted and where to find them is said.
    expect(report.text()).toContain('… and 3 more skipped entries; metatpt index --json lists them all.');
  });

  it('names the files that were new, changed, moved and removed, and says how many more there are', () => {
    const report = mount(ScanReport, { props: { scan: scan() } });
    expect(rows(report, 'added')).toEqual(['a.jpg', 'b.jpg']);
    expect(rows(report, 'changed')).toEqual(['c.jpgsize or modification time changed: read again']);
    expect(rows(report, 'moved')).toEqual(['old/d.jpg → new/d.jpgkeeps its labels and results']);
    expect(rows(report, 'removed')).toEqual([
      'e.jpggone from the folder; kept as missing, with its labels',
      'f.jpggone from the folder; kept as missing, with its labels',
    ]);
    expect(report.get('[data-testid="scan-added-list"] h3').text()).toBe('New (3)');
    expect(report.get('[data-testid="scan-added-list"]').text()).toContain(
      '… and 1 more new image; metatpt index --json lists them all.',
    );
    // A list that names all its entries has no such line.
    expect(report.get('[data-testid="scan-removed-list"]').text()).not.toContain('more');
  });

  it('says that everything was taken when nothing was left out, and when nothing changed', () => {
    const report = mount(ScanReport, {
      props: {
        scan: scan({
          ...{ added: 0, changed: 0, moved: 0, removed: 0, errors: 0, unreadable: 0, skippedCount: 0 },
          ...{ addedPaths: [], changedPaths: [], movedPaths: [], removedPaths: [], skipped: [], failed: [] },
        }),
      },
    });
    expect(report.get('summary').text()).toBe(
      'Last scan: 0 new, 0 changed, 0 moved, 0 removed, 0 unreadable, 0 skipped',
    );
    expect(report.text()).toContain('Every file in the folder was taken as an image and read.');
    expect(report.text()).toContain('Nothing was new, changed, moved or removed.');
    expect(report.findAll('tr')).toHaveLength(0);
  });
});
