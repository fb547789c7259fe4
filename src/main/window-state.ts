// The main window's size and position, remembered across starts in userData/window-state.json.
import { readFileSync, writeFileSync } from 'node:fs';
import type { BrowserWindow, Rectangle } from 'electron';
import { z } from 'zod';

const windowStateSchema = z.object({
  x: z.number().int(),
  y: z.number().int(),
  width: z.number().int().min(400),
  height: z.number().int().min(300),
  maximized: z.boolean(),
});

export type WindowState = z.infer<typeof windowStateSchema>;

/** The saved state, or null when there is none or it is unreadable (then the default size is used). */
export function loadWindowState(file: string): WindowState | null {
  try {
    return windowStateSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    return null;
  }
}

/** Whether the saved bounds still overlap a screen (a monitor may have been unplugged since). */
export function isOnScreen(bounds: Rectangle, screens: readonly Rectangle[]): boolean {
  return screens.some(
    (area) =>
      bounds.x < area.x + area.width &&
      bounds.x + bounds.width > area.x &&
      bounds.y < area.y + area.height &&
      bounds.y + bounds.height > area.y,
  );
}

/** Saves the window's state when it closes (its normal bounds, so a maximized window restores well). */
export function rememberWindowState(window: BrowserWindow, file: string): void {
  window.on('close', () => {
    const state: WindowState = { ...window.getNormalBounds(), maximized: window.isMaximized() };
    try {
      writeFileSync(file, `${JSON.stringify(state)}\n`);
    } catch (error) {
      process.stderr.write(`cannot save the window state to ${file}: ${String(error)}\n`);
    }
  });
}
