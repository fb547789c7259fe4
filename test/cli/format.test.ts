// Table rows, durations and the progress line.
import { describe, expect, it } from 'vitest';
import { formatDuration, ProgressLine, tableRow } from '../../src/cli/format.js';

describe('tableRow', () => {
  it('pads cells to their columns, right-aligns numbers and leaves no trailing spaces', () => {
    const columns = [{ width: 6 }, { width: 5, align: 'right' as const }, { width: 4 }];
    expect(tableRow(['a.jpg', '0.5', ''], columns)).toBe('a.jpg     0.5');
    expect(tableRow(['b.jpg', '0.125', 'cat'], columns)).toBe('b.jpg   0.125  cat');
  });
});

describe('formatDuration', () => {
  it.each([
    [0.4, '0s'],
    [45, '45s'],
    [70, '1m10s'],
    [3599, '59m59s'],
    [7380, '2h03m'],
  ])('%s seconds → %s', (seconds, text) => expect(formatDuration(seconds)).toBe(text));
});

describe('ProgressLine', () => {
  function progress(options: { inPlace: boolean; columns?: number }) {
    let now = 0;
    const lines: string[] = [];
    const line = new ProgressLine(300, (text) => lines.push(text), { ...options, now: () => now });
    return { line, lines, advance: (ms: number) => (now += ms) };
  }

  it('prints the item, the rate of finished items and the time left', () => {
    const { line, lines, advance } = progress({ inPlace: false });
    line.update(0, 'first.jpg');
    advance(11_000);
    line.update(11, 'twelfth.jpg');
    expect(lines).toEqual(['[1/300] first.jpg\n', '[12/300] 1.0 img/s ETA 4m49s twelfth.jpg\n']);
  });

  it('skips updates closer together than the interval, but not the last item', () => {
    const { line, lines, advance } = progress({ inPlace: false });
    line.update(0, 'a');
    advance(10);
    line.update(1, 'b');
    advance(10);
    line.update(299, 'last');
    expect(lines.map((l) => l.split(' ').at(-1))).toEqual(['a\n', 'last\n']);
  });

  it('draws in place within the terminal width, and clears before other output', () => {
    const { line, lines } = progress({ inPlace: true, columns: 20 });
    line.update(0, 'a/very/long/path/to/an/image.jpg');
    line.clear();
    line.clear();
    expect(lines).toEqual(['\r\x1b[2K[1/300] a/very/lon…', '\r\x1b[2K']);
  });
});
