// Channel names between the Electron preload and main process, shared so neither side spells them.
export const IPC_CHANNELS = {
  /** invoke(channel, method, input) → ApiResponse */
  call: 'workbench:call',
  /** main → renderer: (event name, payload) */
  event: 'workbench:event',
} as const;

/** The custom protocol that serves collection images to the Electron renderer. */
export const IMAGE_PROTOCOL = 'workbench';
