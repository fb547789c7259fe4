import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isOnScreen, loadWindowState } from '../../src/main/window-state.js';

const dir = mkdtempSync(join(tmpdir(), 'window-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('window state', () => {
  it('reads a saved state and ignores a missing, corrupt or implausible one', () => {
    const file = join(dir, 'window-state.json');
    expect(loadWindowState(file)).toBeNull();
    const state = { x: 10, y: 20, width: 1200, height: 800, maximized: true };
    writeFileSync(file, JSON.stringify(state));
    expect(loadWindowState(file)).toEqual(state);
    writeFileSync(file, '{"x": 1');
    expect(loadWindowState(file)).toBeNull();
    writeFileSync(file, JSON.stringify({ ...state, width: 5 }));
    expect(loadWindowState(file)).toBeNull();
  });

  it('keeps the saved position only while it overlaps a screen', () => {
    const screens = [
      { x: 0, y: 0, width: 1920, height: 1080 },
      { x: 1920, y: 0, width: 1280, height: 1024 },
    ];
    expect(isOnScreen({ x: 2000, y: 100, width: 800, height: 600 }, screens)).toBe(true);
    expect(isOnScreen({ x: 3300, y: 100, width: 800, height: 600 }, screens)).toBe(false);
    expect(isOnScreen({ x: -900, y: 0, width: 800, height: 600 }, screens)).toBe(false);
  });
});
