// End to end in Chromium against real serve mode (`metatpt serve` as a child process) with a generated
// image folder and the golden tiny model: add the folder → thumbnails → define classes → zero-shot run
// → MetaTPT on 3 images with progress → the inspector shows the learned views → review 5 images with
// the keyboard, with an undo → export. Screenshots of each view go to a temporary folder, or to
// docs/screenshots with UPDATE_SCREENSHOTS=1.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../../src/engine/random.js';
import { renderScene } from '../../src/engine/synthetic/render.js';
import { balancedScenes, SHAPES } from '../../src/engine/synthetic/scenes.js';
import type { HttpClient } from '../../src/shared/client-http.js';
import { GOLDEN_MODEL_DIR } from '../fixtures/golden/load.js';
import {
  closeWorkbench,
  ensureRendererBuild,
  openWorkbench,
  repoRoot,
  skipReason,
  type Workbench,
} from './serve-mode.js';

const perClass = 3;

/** Shapes on coloured grounds, `perClass` of each class, as PNG files. */
async function writeImageFolder(folder: string): Promise<void> {
  mkdirSync(folder, { recursive: true });
  const scenes = balancedScenes(new Random(7), perClass);
  for (const [index, scene] of scenes.entries()) {
    const image = await renderScene(scene, { side: 192 });
    await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
      .png()
      .toFile(join(folder, `${scene.shape}-${String(index).padStart(2, '0')}.png`));
  }
}

/** A text matcher for exactly `text`. */
const exactly = (text: string) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

describe.skipIf(skipReason !== null)(
  `workbench in Chromium${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let workspace: string;
    let imagesDir: string;
    let screenshotDir: string;
    let workbench: Workbench;
    let api: HttpClient;
    let page: Page;
    let collectionId: number;

    /** A screenshot of the view, without the passing notices. */
    const shot = async (name: string) => {
      await page
        .locator('[data-testid="notice"] button')
        .evaluateAll((buttons) => buttons.forEach((b) => (b as unknown as { click(): void }).click()));
      await page.screenshot({ path: join(screenshotDir, `${name}.png`) });
    };
    const tab = (name: string) => page.click(`[data-testid="tab-${name}"]`);
    /** Waits until every image the selector matches has loaded (through the token-guarded routes). */
    const imagesLoaded = async (selector: string) => {
      const loaded = () =>
        page.locator(selector).evaluateAll((images) =>
          images.every((image) => {
            const { complete, naturalWidth } = image as unknown as {
              complete: boolean;
              naturalWidth: number;
            };
            return complete && naturalWidth > 0;
          }),
        );
      while (!(await loaded())) await page.waitForTimeout(50);
    };

    beforeAll(async () => {
      ensureRendererBuild();
      workspace = mkdtempSync(join(tmpdir(), 'metatpt-e2e-'));
      imagesDir = join(workspace, 'field-photos');
      await writeImageFolder(imagesDir);
      screenshotDir = process.env.UPDATE_SCREENSHOTS
        ? join(repoRoot, 'docs/screenshots')
        : join(workspace, 'shots');
      mkdirSync(screenshotDir, { recursive: true });
      workbench = await openWorkbench(join(workspace, 'data', 'workbench.db'), 'dark');
      ({ api, page } = workbench);
    });

    afterAll(async () => {
      await closeWorkbench(workbench);
      if (workspace) rmSync(workspace, { recursive: true, force: true });
    });

    it('imports the model and adds the folder: thumbnails appear', async () => {
      await page.waitForSelector('text=Welcome to MetaTPT Workbench');
      await tab('models');
      await page.fill('[data-testid="model-folder"]', GOLDEN_MODEL_DIR);
      await page.press('[data-testid="model-folder"]', 'Enter');
      await page.waitForSelector('[data-testid="notice"] >> text=Installed the model');
      await shot('models');

      await tab('library');
      await page.fill('[data-testid="add-folder-path"]', imagesDir);
      await page.press('[data-testid="add-folder-path"]', 'Enter');
      await page.waitForSelector('[data-testid="tile"] img');
      // Thumbnails load through the token-guarded image route.
      await imagesLoaded('[data-testid="tile"] img');
      expect(await page.textContent('[data-testid="image-count"]')).toContain(
        String(SHAPES.length * perClass),
      );
      collectionId = (await api.call('collections.list', {}))[0].id;
    });

    it('defines the classes and scores the folder zero-shot', async () => {
      await tab('classes');
      await page.fill('[data-testid="class-set-name"]', 'Shapes');
      await page.fill('[data-testid="new-class-name"]', SHAPES.join(', '));
      await page.press('[data-testid="new-class-name"]', 'Enter');
      await page.click('[data-testid="save-classes"]');
      await page.waitForSelector('[data-testid="rescore-banner"]');
      await shot('classes');
      await page.click('[data-testid="rescore-banner"] button.primary');
      await page.waitForSelector('[data-testid="run-history"] tr:has-text("Zero-shot"):has-text("done")');
      await tab('library');
      await page.waitForSelector('[data-testid="tile"] .prediction');
      const [run] = await api.call('runs.list', { collectionId });
      expect(run).toMatchObject({ method: 'zeroshot', status: 'done', done: SHAPES.length * perClass });
    });

    it('runs MetaTPT on 3 selected images with progress', async () => {
      await page.click('[data-testid="tile"][data-index="0"]');
      await page.click('[data-testid="tile"][data-index="2"]', { modifiers: ['Shift'] });
      expect(await page.textContent('[data-testid="selection-count"]')).toMatch(/^\s*3 selected/);
      await shot('library');

      await tab('runs');
      await page.click('[data-testid="method-metatpt"]');
      await page.click('[data-testid="scope-selection"]');
      await page.selectOption('[data-testid="run-preset"]', 'fast-cpu');
      await page.click('text=Parameters');
      await page.fill('[data-testid="param-views"]', '8');
      await page.click('[data-testid="start-run"]');
      const progress = await page.waitForSelector('[data-testid="run-progress"]');
      expect(await progress.textContent()).toContain('MetaTPT');
      await shot('runs');
      await page.waitForSelector('[data-testid="run-history"] tr:has-text("MetaTPT"):has-text("done")');
      const [metaRun] = await api.call('runs.list', { collectionId });
      expect(metaRun).toMatchObject({ method: 'metatpt', status: 'done', total: 3, done: 3, device: 'cpu' });
    });

    it('inspects the learned views of an adapted image', async () => {
      await tab('library');
      await page.dblclick('[data-testid="tile"][data-index="1"]');
      await page.waitForSelector('[data-testid="view-tile"]');
      expect(await page.locator('[data-testid="view-tile"]').count()).toBe(8);
      expect(await page.locator('[data-testid="crop-outlines"] polygon').count()).toBe(8);
      expect(await page.textContent('[data-testid="metatpt-note"]')).toContain('reconstruction');
      await page.waitForSelector('[data-testid="nearest-tokens"]');
      await imagesLoaded('[data-testid="view-tile"] img');
      await shot('inspector');
    });

    it('reviews 5 images with the keyboard, undoing one decision', async () => {
      await tab('review');
      await page.waitForSelector('[data-testid="review-image"]');
      const path = () => page.textContent('[data-testid="review-path"]');
      const reviewed = () => page.textContent('[data-testid="reviewed-count"]');
      const decide = async (key: string) => {
        const before = await path();
        await page.keyboard.press(key);
        await page.locator('[data-testid="review-path"]', { hasNotText: exactly(before!) }).waitFor();
      };
      await decide('1');
      await decide('Enter');
      const third = await path();
      await decide('x');
      expect(await reviewed()).toBe('3');
      // Undo the reject: back on that image, which is unreviewed again.
      await page.keyboard.press('Control+z');
      await page.locator('[data-testid="review-path"]', { hasText: exactly(third!) }).waitFor();
      await page.locator('[data-testid="reviewed-count"]', { hasText: exactly('2') }).waitFor();
      await decide('a');
      await decide('2');
      await decide('3');
      expect(await reviewed()).toBe('5');
      await shot('review');
      await page.keyboard.press('?');
      await page.waitForSelector('[data-testid="shortcut-overlay"]');
      await shot('review-shortcuts');
      await page.keyboard.press('Escape');

      const run = (await api.call('runs.list', { collectionId })).find((r) => r.method === 'zeroshot')!;
      const history = await api.call('review.history', { collectionId, classSetId: run.classSetId });
      expect(history.map((a) => [a.kind, a.undone])).toEqual([
        ['assign', false],
        ['assign', false],
        ['accept', false],
        ['accept', false],
        ['assign', false],
      ]);
    });

    it('exports the reviewed labels as class folders', async () => {
      await page.click('[data-testid="open-export"]');
      await page.waitForSelector('[data-testid="export-dialog"]');
      const outDir = join(workspace, 'dataset');
      await page.fill('[data-testid="export-out"]', outDir);
      await shot('export');
      await page.click('[data-testid="export-start"]');
      await page.waitForSelector('[data-testid="export-result"]');
      const files = readdirSync(outDir, { recursive: true, withFileTypes: true }).filter((entry) =>
        entry.isFile(),
      );
      expect(files.filter((f) => f.name.endsWith('.png'))).toHaveLength(5);
      await page.click('text=Done');

      await page.click('[data-testid="theme-toggle"]');
      await tab('library');
      await page.locator('html[data-theme="light"]').waitFor({ state: 'attached' });
      await page.waitForSelector('[data-testid="tile"] img');
      await shot('library-light');
      expect(workbench.pageErrors).toEqual([]);
    });
  },
);
