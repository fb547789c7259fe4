// @vitest-environment happy-dom
// The scale-out settings card's store against a real backend: validation by the API's own schema
// before a call, saving to the desktop's scale-out.json (owner-only, read back as the backend reads
// it at start) without the password ever coming back, keeping or replacing the saved password, and
// serve mode's settings shown but not saved.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { flushPromises, mount } from '@vue/test-utils';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startRedis, type TestRedis } from '../../scripts/redis-server.js';
import type { Backend } from '../../src/backend/app.js';
import { readScaleOutSettings, scaleOutFile } from '../../src/backend/scale-out/settings.js';
import ScaleOutCard from '../../src/renderer/src/components/ScaleOutCard.vue';
import { useScaleOutStore } from '../../src/renderer/src/stores/scale-out.js';
import { makeWorkspace, startBackend, type Workspace } from '../backend/app-fixtures.js';
import { inProcessApi, piniaWith } from './in-process-api.js';

let workspace: Workspace;
/** A backend with settings in use connects to their Redis at start. */
let redis: TestRedis;
const backends: Backend[] = [];

beforeAll(async () => {
  [workspace, redis] = await Promise.all([makeWorkspace(0), startRedis()]);
});
afterAll(async () => {
  for (const backend of backends) await backend.close();
  await redis?.stop();
  workspace?.remove();
});

/** A store over a fresh backend (its own Pinia, also returned). */
async function storeOver(options: Parameters<typeof startBackend>[1]) {
  const backend = await startBackend(workspace, options);
  backends.push(backend);
  const pinia = piniaWith(inProcessApi(backend));
  const store = useScaleOutStore();
  await store.load();
  return Object.assign(store, { pinia });
}

describe('the scale-out settings store', () => {
  it('saves checked settings to the desktop file, never showing the password, and applies them at the next start', async () => {
    const file = scaleOutFile(workspace.dataDir);
    const store = await storeOver({ scaleOutFile: file });
    expect(store.state).toEqual({ file, saved: null, active: null, restartNeeded: false });

    expect(await store.save({ redisUrl: 'http://queue-host:6379' })).toBe(false);
    expect(store.invalid).toMatch(/settings\.redisUrl: .*redis:\/\/ or rediss:\/\//);
    expect(await readScaleOutSettings(file)).toBeNull();

    expect(await store.save({ redisUrl: 'redis://queue-host:6379', password: 's3cr:t@', queue: 'lab' })).toBe(
      true,
    );
    expect(store.invalid).toBeNull();
    expect(store.state).toEqual({
      file,
      saved: { redisUrl: 'redis://queue-host:6379', hasPassword: true, queue: 'lab' },
      active: null,
      restartNeeded: true,
    });
    expect(JSON.stringify(store.state)).not.toContain('s3cr');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const saved = await readScaleOutSettings(file);
    expect(new URL(saved!.redisUrl).password).toBe(encodeURIComponent('s3cr:t@'));

    // The form sends no password: the saved one stays for the same server, and is not sent elsewhere.
    await store.save({ redisUrl: 'redis://queue-host:6379/2' });
    expect(await readScaleOutSettings(file)).toEqual({ redisUrl: `${saved!.redisUrl}/2` });
    await store.save({ redisUrl: redis.url });
    expect(await readScaleOutSettings(file)).toEqual({ redisUrl: redis.url });

    // What the backend reads at its next start is in use; no restart needed then.
    const restarted = await storeOver({ scaleOutFile: file, scaleOut: await readScaleOutSettings(file) });
    expect(restarted.state).toMatchObject({
      active: { redisUrl: redis.url, hasPassword: false, queue: 'metatpt-images' },
      restartNeeded: false,
    });
    expect(await restarted.save(null)).toBe(true);
    expect(restarted.state).toMatchObject({ saved: null, restartNeeded: true });
    expect(() => readFileSync(file)).toThrow(/ENOENT/);
  });

  it('shows the settings serve mode took from its command line, and does not save them', async () => {
    const store = await storeOver({ scaleOut: { redisUrl: redis.url, queue: 'q' } });
    const inUse = { redisUrl: redis.url, hasPassword: false, queue: 'q' };
    expect(store.state).toEqual({ file: null, saved: inUse, active: inUse, restartNeeded: false });
    expect(await store.save({ redisUrl: 'redis://elsewhere:6379' })).toBe(false);
    expect(store.state?.active).toEqual(inUse);
  });

  it('the card saves what is typed, and never puts the saved password back in the form', async () => {
    const file = join(workspace.dataDir, 'card-scale-out.json');
    const { pinia } = await storeOver({ scaleOutFile: file });
    const card = mount(ScaleOutCard, { global: { plugins: [pinia] } });
    await flushPromises();
    await card.get('[data-testid="scale-out-url"]').setValue('http://queue-host:6379');
    await card.get('form').trigger('submit');
    await flushPromises();
    expect(card.get('[data-testid="scale-out-invalid"]').text()).toMatch(/redis:\/\/ or rediss:\/\//);

    await card.get('[data-testid="scale-out-url"]').setValue('redis://queue-host:6379');
    await card.get('[data-testid="scale-out-password"]').setValue('pw');
    await card.get('form').trigger('submit');
    await vi.waitFor(() => expect(card.find('[data-testid="scale-out-restart"]').exists()).toBe(true));
    expect(await readScaleOutSettings(file)).toEqual({ redisUrl: 'redis://:pw@queue-host:6379' });
    const password = card.get<HTMLInputElement>('[data-testid="scale-out-password"]');
    expect(password.element.value).toBe('');
    expect(password.attributes('placeholder')).toMatch(/saved/);
    expect(card.get('[data-testid="scale-out-restart"]').text()).toMatch(/Quit and reopen/);
    expect(card.html()).not.toContain('pw@');
    card.unmount();
  });
});
