import { contextBridge } from 'electron';

// The typed workbench API is exposed here once the backend services exist; until then the renderer
// only learns which shell it runs in.
contextBridge.exposeInMainWorld('workbenchShell', { kind: 'electron' });
