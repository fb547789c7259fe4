// The relay between the desktop shell and the backend in its utility process, driven over a
// worker_threads MessageChannel with a real backend: calls, errors, events, the folder dialog the
// backend asks the shell for, image lookups, the backend's process going away, and close.
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, type Backend } from '../../src/backend/app.js';
import { ENGINE_WORKER_SCRIPT } from '../../src/backend/engine-host/host.js';
import {
  connectBackendRelay,
  serveBackendRelay,
  type RelayMessage,
  type RelayPort,
  type RemoteBackend,
} from '../../src/backend/relay.js';
import { ApiError, type ApiEventName } from '../../src/shared/api.js';
import { makeWorkspace, type Workspace } from './app-fixtures.js';

const asRelayPort = (port: MessagePort): RelayPort => ({
  postMessage: (message) => port.postMessage(message),
  onMessage: (listener) => port.on('message', (message: RelayMessage) => listener(message)),
});

let workspace: Workspace;
let channel: MessageChannel;
let backend: RemoteBackend;
/** The backend on the far end, closed directly once the shell end is disconnected. */
let local: Backend;
const dialogTitles: (string | undefined)[] = [];
const events: ApiEventName[] = [];

beforeAll(async () => {
  workspace = await makeWorkspace(3);
  channel = new MessageChannel();
  serveBackendRelay(asRelayPort(channel.port1), async (options) => {
    local = await createBackend({ ...options, log: () => {} });
    return local;
  });
  backend = await connectBackendRelay(
    asRelayPort(channel.port2),
    {
      dataDir: workspace.dataDir,
      resourcesDir: workspace.resourcesDir,
      provider: 'cpu',
      workerScript: fileURLToPath(ENGINE_WORKER_SCRIPT),
      shell: 'electron',
      version: '0.0.0-relay',
      pickFolder: true,
    },
    async (title) => {
      dialogTitles.push(title);
      return workspace.photos;
    },
  );
  backend.subscribe((event) => events.push(event));
});

afterAll(async () => {
  await local.close();
  channel.port1.close();
  workspace.remove();
});

describe('the backend relay', () => {
  it('relays calls and their results, and forwards the events of the work they start', async () => {
    expect(await backend.dispatch('app.info', {})).toMatchObject({
      shell: 'electron',
      version: '0.0.0-relay',
    });
    const { collection } = (await backend.dispatch('collections.add', { folder: workspace.photos })) as {
      collection: { id: number; imageCounts: { ok: number } };
    };
    expect(collection.imageCounts.ok).toBe(3);
    expect(events).toContain('scan.progress');
    expect(events).toContain('collection.changed');
    const page = (await backend.dispatch('browse.grid', { collectionId: collection.id })) as {
      total: number;
    };
    expect(page.total).toBe(3);
  });

  it('relays errors with their code, as a local backend throws them', async () => {
    const invalid = backend.dispatch('collections.rename', { collectionId: 0, name: '' });
    await expect(invalid).rejects.toBeInstanceOf(ApiError);
    await expect(invalid).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(backend.dispatch('no.such', {})).rejects.toThrow(/no\.such/);
    await expect(backend.imageFile(999_999, 'full')).rejects.toMatchObject({ code: 'not-found' });
  });

  it("asks the shell's folder dialog when the renderer picks a folder", async () => {
    expect(await backend.dispatch('app.pickFolder', { title: 'Add a folder' })).toBe(workspace.photos);
    expect(dialogTitles).toEqual(['Add a folder']);
  });

  it('finds the file of an image for the image protocol', async () => {
    const [collection] = (await backend.dispatch('collections.list', {})) as { id: number }[];
    const page = (await backend.dispatch('browse.grid', { collectionId: collection!.id, limit: 1 })) as {
      items: { imageId: number; relPath: string }[];
    };
    const file = await backend.imageFile(page.items[0]!.imageId, 'full');
    expect(file.path.endsWith(page.items[0]!.relPath)).toBe(true);
    expect(file.contentType).toBe('image/png');
  });

  it("fails calls in flight and later ones with the reason when the backend's process is gone", async () => {
    const stopped = new ApiError('the backend stopped unexpectedly (exit code 9)');
    const listed = backend.dispatch('collections.list', {});
    backend.disconnected(stopped);
    // The answer may have raced the disconnect; a call after it always fails.
    await listed.catch((error: unknown) => expect(error).toBe(stopped));
    await expect(backend.dispatch('app.info', {})).rejects.toBe(stopped);
  });
});

describe('closing through the relay', () => {
  it('closes the backend on the other end', async () => {
    const other = new MessageChannel();
    const shellEnd = asRelayPort(other.port2);
    let closed = false;
    serveBackendRelay(asRelayPort(other.port1), async (options) => {
      const real = await createBackend({ ...options, log: () => {} });
      return { ...real, close: async () => ((closed = true), real.close()) };
    });
    const remote = await connectBackendRelay(shellEnd, {
      dataDir: `${workspace.root}/second`,
      resourcesDir: null,
      provider: 'cpu',
      workerScript: fileURLToPath(ENGINE_WORKER_SCRIPT),
      shell: 'electron',
      version: '0',
      pickFolder: false,
    });
    expect(await remote.dispatch('app.pickFolder', {})).toBeNull();
    await remote.close();
    expect(closed).toBe(true);
    other.port1.close();
  });
});
