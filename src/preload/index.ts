// The preload: exposes window.workbench (WorkbenchApi) to the sandboxed renderer over IPC. It runs
// sandboxed and bundled as CommonJS, so it imports only electron at run time; the contract's types
// come in as types only. Errors cross the context bridge as plain Errors: their message arrives, the
// ApiError code does not.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { ApiEventName, ApiEvents, ApiResponse, WorkbenchApi } from '../shared/api.js';
import { IMAGE_PROTOCOL, IPC_CHANNELS } from '../shared/ipc.js';

const workbench: WorkbenchApi = {
  async call(method, input) {
    const response = (await ipcRenderer.invoke(IPC_CHANNELS.call, method, input)) as ApiResponse;
    if (!response.ok) throw new Error(response.error.message);
    return response.result as never;
  },

  on<E extends ApiEventName>(event: E, listener: (payload: ApiEvents[E]) => void) {
    const forward = (_: IpcRendererEvent, name: ApiEventName, payload: unknown) => {
      if (name === event) listener(payload as ApiEvents[E]);
    };
    ipcRenderer.on(IPC_CHANNELS.event, forward);
    return () => void ipcRenderer.removeListener(IPC_CHANNELS.event, forward);
  },

  imageUrl: (imageId, kind) => `${IMAGE_PROTOCOL}://${kind}/${imageId}`,
};

contextBridge.exposeInMainWorld('workbench', workbench);
