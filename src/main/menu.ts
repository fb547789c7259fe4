// The application menu. Commands that the renderer carries out travel as app.command events.
import { Menu, type MenuItemConstructorOptions } from 'electron';
import type { AppCommand } from '../shared/api.js';

export function buildAppMenu(options: { developer: boolean; send: (command: AppCommand) => void }): Menu {
  const { developer, send } = options;
  const isMac = process.platform === 'darwin';
  const template: MenuItemConstructorOptions[] = [
    ...(isMac ? [{ role: 'appMenu' } as const] : []),
    {
      label: 'File',
      submenu: [
        { label: 'Add folder…', accelerator: 'CmdOrCtrl+O', click: () => send('add-folder') },
        { type: 'separator' },
        isMac ? { role: 'close' } : { role: 'quit' },
      ],
    },
    { role: 'editMenu' },
    {
      label: 'View',
      submenu: [
        ...(developer
          ? ([{ role: 'reload' }, { role: 'toggleDevTools' }, { type: 'separator' }] as const)
          : []),
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { type: 'separator' },
        { role: 'togglefullscreen' },
      ],
    },
    {
      role: 'help',
      submenu: [
        // No accelerator: the renderer answers ? itself, and a menu accelerator would swallow the key.
        { label: 'Keyboard shortcuts (?)', click: () => send('show-shortcuts') },
        ...(isMac ? [] : [{ role: 'about' } as const]),
      ],
    },
  ];
  return Menu.buildFromTemplate(template);
}
