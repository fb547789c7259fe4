// workbench://full/<imageId> and workbench://thumb/<imageId>: collection images for the renderer,
// resolved by the backend like serve mode's /files routes (only files inside registered collections).
import { pathToFileURL } from 'node:url';
import { net, protocol } from 'electron';
import type { Backend } from '../backend/app.js';
import { errorPayload } from '../backend/api/dispatch.js';
import { IMAGE_PROTOCOL } from '../shared/ipc.js';

/** Must run before the app is ready: a standard, secure scheme can be fetched and used by <img>. */
export function registerImageScheme(): void {
  protocol.registerSchemesAsPrivileged([
    {
      scheme: IMAGE_PROTOCOL,
      privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true },
    },
  ]);
}

const IMAGE_ID = /^\/([1-9]\d{0,15})$/;

export function handleImageProtocol(backend: Pick<Backend, 'imageFile'>): void {
  protocol.handle(IMAGE_PROTOCOL, async (request) => {
    const url = new URL(request.url);
    const kind = url.hostname;
    const match = IMAGE_ID.exec(url.pathname);
    if ((kind !== 'full' && kind !== 'thumb') || !match || request.method !== 'GET') {
      return new Response('not found', { status: 404 });
    }
    try {
      const file = await backend.imageFile(Number(match[1]), kind);
      const response = await net.fetch(pathToFileURL(file.path).href);
      return new Response(response.body, {
        headers: { 'content-type': file.contentType, 'x-content-type-options': 'nosniff' },
      });
    } catch (error) {
      return new Response(errorPayload(error).message, { status: 404 });
    }
  });
}
