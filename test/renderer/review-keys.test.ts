// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { classKeyLabel, reviewCommandFor, type KeyPress } from '../../src/renderer/src/lib/review-keys.js';

const press = (key: string, code: string, mods: Partial<KeyPress> = {}): KeyPress => ({
  key,
  code,
  shiftKey: false,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  ...mods,
});

describe('review keys', () => {
  it('maps 1–9, 0 and Shift+digits to classes 1–20, on the number row and the numpad', () => {
    expect(reviewCommandFor(press('1', 'Digit1'), 20)).toEqual({ kind: 'assign', classOrdinal: 0 });
    expect(reviewCommandFor(press('9', 'Digit9'), 20)).toEqual({ kind: 'assign', classOrdinal: 8 });
    expect(reviewCommandFor(press('0', 'Digit0'), 20)).toEqual({ kind: 'assign', classOrdinal: 9 });
    expect(reviewCommandFor(press('3', 'Numpad3'), 20)).toEqual({ kind: 'assign', classOrdinal: 2 });
    // Shift+1 is '!' on a US layout and something else elsewhere: the physical key decides.
    expect(reviewCommandFor(press('!', 'Digit1', { shiftKey: true }), 20)).toEqual({
      kind: 'assign',
      classOrdinal: 10,
    });
    expect(reviewCommandFor(press('=', 'Digit0', { shiftKey: true }), 20)).toEqual({
      kind: 'assign',
      classOrdinal: 19,
    });
  });

  it('ignores a class key beyond the class set', () => {
    expect(reviewCommandFor(press('5', 'Digit5'), 4)).toBeNull();
    expect(reviewCommandFor(press('!', 'Digit1', { shiftKey: true }), 10)).toBeNull();
  });

  it('maps the decision and movement keys', () => {
    const kind = (key: string, code = '', mods: Partial<KeyPress> = {}) =>
      reviewCommandFor(press(key, code, mods), 3)?.kind;
    expect(kind('Enter', 'Enter')).toBe('accept');
    expect(kind('a', 'KeyA')).toBe('accept');
    expect(kind('A', 'KeyA', { shiftKey: true })).toBe('accept');
    expect(kind('x', 'KeyX')).toBe('reject');
    expect(kind(' ', 'Space')).toBe('skip');
    expect(kind('ArrowLeft', 'ArrowLeft')).toBe('previous');
    expect(kind('ArrowRight', 'ArrowRight')).toBe('next');
    expect(kind('d', 'KeyD')).toBe('next');
    expect(kind('?', 'Slash', { shiftKey: true })).toBe('help');
    expect(kind('q', 'KeyQ')).toBeUndefined();
  });

  it('maps Ctrl/Cmd+Z to undo and with Shift to redo, and leaves other shortcuts alone', () => {
    expect(reviewCommandFor(press('z', 'KeyZ', { ctrlKey: true }), 3)).toEqual({ kind: 'undo' });
    expect(reviewCommandFor(press('z', 'KeyZ', { metaKey: true }), 3)).toEqual({ kind: 'undo' });
    expect(reviewCommandFor(press('Z', 'KeyZ', { ctrlKey: true, shiftKey: true }), 3)).toEqual({
      kind: 'redo',
    });
    expect(reviewCommandFor(press('1', 'Digit1', { ctrlKey: true }), 3)).toBeNull();
    expect(reviewCommandFor(press('a', 'KeyA', { metaKey: true }), 3)).toBeNull();
    expect(reviewCommandFor(press('x', 'KeyX', { altKey: true }), 3)).toBeNull();
  });

  it('accepts a remapped keymap', () => {
    const keymap = { accept: ['y'], reject: ['n'], skip: ['s'], previous: ['k'], next: ['j'], help: ['h'] };
    expect(reviewCommandFor(press('y', 'KeyY'), 3, keymap)).toEqual({ kind: 'accept' });
    expect(reviewCommandFor(press('a', 'KeyA'), 3, keymap)).toBeNull();
  });

  it('labels each class with its key', () => {
    expect([0, 8, 9, 10, 19, 20].map(classKeyLabel)).toEqual(['1', '9', '0', '⇧1', '⇧0', null]);
  });
});
