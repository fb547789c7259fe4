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
  moved: 0,
  durationMs: 40,
  skippedCount: 5,
  skipped: [
    { path: 'notes.txt', reason: 'not-an-image' },
    { path: 'shared', reason: 'link-outside-folder', detail: '/mnt/elsewhere' },
  ],
  failed: [{ path: 'broken.jpg', error: 'VipsJpeg: premature end of JPEG file' }],
  ...over,
});

describe('ScanReport', () => {
  it('sums the scan up in one line and names every entry it left out, with why', () => {
    const report = mount(ScanReport, { props: { scan: scan() } });
    expect(report.get('summary').text()).toBe(
      'Last scan: 3 new, 1 changed, 0 moved, 2 removed, 1 unreadable, 5 skipped',
    );
    expect(report.findAll('[data-testid="scan-failed"]').map((row) => row.text())).toEqual([
      'broken.jpgcould not be read: VipsJpeg: premature end of JPEG file',
    ]);
    expect(report.findAll('[data-testid="scan-skipped"]').map((row) => row.text())).toEqual([
      'notes.txtnot an image file type (by its extension)',
      'sharedsymbolic link to a place outside the folder (not followed by default) (/mnt/elsewhere)',
    ]);
    // Five were skipped, two listed: the rest are counted and where to find them is said.
    expect(report.text()).toContain('… and 3 more skipped entries; metatpt index --json lists them all.');
  });

  it('says that everything was taken when nothing was left out', () => {
    const report = mount(ScanReport, {
      props: { scan: scan({ errors: 0, skippedCount: 0, skipped: [], failed: [] }) },
    });
    expect(report.text()).toContain('Every file in the folder was taken as an image and read.');
    expect(report.findAll('tr')).toHaveLength(0);
  });
});
