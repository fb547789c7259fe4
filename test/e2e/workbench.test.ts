// End to end in Chromium against real serve mode (`metatpt serve` as a child process), the workflow a
// new user lives on first start: open the demo (its classes and ground truth come with it) → score it
// zero-shot → TPT on the uncertain images only, layered on the zero-shot result → the library shows
// every image with the adapted ones marked → export writes every image → review with the keyboard,
// bulk-assign and undo in the library → edit a prompt and re-score → the library shows the new
// predictions → add a folder, delete / change / add files and rescan → summary and grid follow
// without a reload → a reload keeps the tab, filters, selection and the Runs form's choices → a stopped
// server is noticed.
// Any console error or page error fails the test. Screenshots of every view at 1440 and 1024 px go to
// a temporary folder, or to docs/screenshots with UPDATE_SCREENSHOTS=1.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../../src/engine/random.js';
import { renderScene } from '../../tools/synthetic/render.js';
import { balancedScenes } from '../../tools/synthetic/scenes.js';
import type { RunInfo } from '../../src/shared/api.js';
import type { HttpClient } from '../../src/shared/client-http.js';
import {
  closeWorkbench,
  ensureRendererBuild,
  openWorkbench,
  repoRoot,
  screenshotFolder,
  skipReason,
  stopServe,
  waitForDoneRun,
  type Workbench,
} from './serve-mode.js';

const demoDir = join(repoRoot, 'resources/demo');
/** Images the TPT run adapts (the most uncertain ones), and the views it uses: CI has 2 cores. */
const uncertainCount = 12;
const tptViews = 8;
const imageExtensions = /\.(png|jpe?g|webp|gif|tiff?|bmp|avif)$/i;

/** Image files under a folder, recursively. */
function imageFiles(folder: string): string[] {
  return readdirSync(folder, { recursive: true, encoding: 'utf8' }).filter((name) =>
    imageExtensions.test(name),
  );
}

/** A shape scene as a PNG file; `seed` picks the scene. */
async function writeScene(path: string, seed: number): Promise<void> {
  const [scene] = balancedScenes(new Random(seed), 1);
  const image = await renderScene(scene, { side: 96 });
  await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png()
    .toFile(path);
}

/** A text matcher for exactly `text`. */
const exactly = (text: string) => new RegExp(`^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);

describe.skipIf(skipReason !== null)(
  `workbench in Chromium${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let workspace: string;
    let screenshotDir: string;
    let workbench: Workbench;
    let api: HttpClient;
    let page: Page;
    let demoId: number;
    const demoImages = imageFiles(demoDir).length;

    /** Screenshots of what is on screen at 1440 and at 1024 px, without the passing notices. */
    const shot = async (name: string) => {
      await page
        .locator('[data-testid="notice"] button[aria-label="Dismiss"]')
        .evaluateAll((buttons) => buttons.forEach((b) => (b as unknown as { click(): void }).click()));
      await page
        .locator('.page, .classes-view')
        .evaluateAll((views) =>
          views.forEach((v) => ((v as unknown as { scrollTop: number }).scrollTop = 0)),
        );
      await page.screenshot({ path: join(screenshotDir, `${name}.png`) });
      await page.setViewportSize({ width: 1024, height: 768 });
      await page.waitForTimeout(150); // layout and the virtual grid settle
      await page.screenshot({ path: join(screenshotDir, `${name}-1024.png`) });
      await page.setViewportSize({ width: 1440, height: 900 });
      await page.waitForTimeout(150);
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
    const imageCount = async () =>
      Number((await page.textContent('[data-testid="image-count"]'))!.replace(/\D/g, ''));
    const runsOf = (collectionId: number) => api.call('runs.list', { collectionId });
    const waitForRun = (collectionId: number, match: (run: RunInfo) => boolean) =>
      waitForDoneRun(workbench, collectionId, match);

    beforeAll(async () => {
      ensureRendererBuild();
      workspace = mkdtempSync(join(tmpdir(), 'metatpt-e2e-'));
      screenshotDir = screenshotFolder(workspace);
      workbench = await openWorkbench(join(workspace, 'data', 'workbench.db'), 'dark');
      ({ api, page } = workbench);
    });

    afterAll(async () => {
      await closeWorkbench(workbench);
      if (workspace) rmSync(workspace, { recursive: true, force: true });
    });

    it('opens the demo with its class set and its ground truth as imported labels', async () => {
      await page.waitForSelector('text=Welcome to MetaTPT Workbench');
      await shot('welcome');
      await page.click('[data-testid="open-demo"]');
      await page.waitForSelector('[data-testid="score-offer"] >> text=The demo is open');
      await page.waitForSelector('[data-testid="tile"] img');
      await imagesLoaded('[data-testid="tile"] img');
      expect(await imageCount()).toBe(demoImages);

      const [collection] = await api.call('collections.list', {});
      demoId = collection.id;
      const [classSet] = await api.call('classSets.list', {});
      expect(classSet.name).toBe('Demo shapes');
      // Imported ground truth on every image, and every image still to review.
      const toReview = await api.call('browse.grid', {
        collectionId: demoId,
        classSetId: classSet.id,
        reviewState: 'unreviewed',
        limit: 1,
      });
      expect(toReview.total).toBe(demoImages);
      expect(toReview.items[0]).toMatchObject({ decision: null, importedClass: expect.any(Number) });
      // The header names the class set the library works with even before a run exists.
      expect(await page.textContent('[data-testid="shown-view"]')).toContain('No run shown');
    });

    it('scores the demo zero-shot in one click; the new run becomes the shown one', async () => {
      await page.click('[data-testid="score-now"]');
      const run = await waitForRun(demoId, (r) => r.method === 'zeroshot');
      expect(run).toMatchObject({ done: demoImages, promptVersion: 1, modelName: expect.any(String) });
      await page.locator('[data-testid="shown-view"]', { hasText: `#${run.id} Zero-shot` }).waitFor();
      await page.locator('[data-testid="shown-view"]', { hasText: 'Demo shapes' }).waitFor();
      await page.waitForSelector('[data-testid="tile"] .prediction');
    });

    it('runs TPT on the uncertain images only, layered on the zero-shot result', async () => {
      const [zeroShot] = await runsOf(demoId);
      // The threshold that picks the `uncertainCount` most uncertain images.
      const ranked = await api.call('browse.grid', {
        collectionId: demoId,
        runId: zeroShot.id,
        sort: { key: 'zeroShotEntropy', direction: 'desc' },
        limit: uncertainCount + 1,
      });
      const [above, below] = [ranked.items[uncertainCount - 1], ranked.items[uncertainCount]];
      const threshold = (above.zeroShotEntropy! + below.zeroShotEntropy!) / 2;

      await tab('runs');
      await page.click('[data-testid="method-tpt"]');
      await page.selectOption('[data-testid="run-preset"]', 'fast-cpu');
      await page.click('text=Parameters');
      await page.fill('[data-testid="param-views"]', String(tptViews));
      await page.click('[data-testid="scope-uncertain"]');
      await page.fill('[data-testid="min-entropy"]', threshold.toFixed(6));
      await page.click('[data-testid="start-run"]');
      await page.waitForSelector('[data-testid="run-progress"]');
      const tpt = await waitForRun(demoId, (r) => r.method === 'tpt');
      expect(tpt).toMatchObject({
        baseRunId: zeroShot.id,
        total: uncertainCount,
        done: uncertainCount,
        settings: { preset: 'fast-cpu', views: tptViews, steps: 1 },
      });
      await page.locator('[data-testid="run-row"]', { hasText: 'done' }).first().waitFor();
      await page.locator('[data-testid="run-row"]', { hasText: `${tptViews} views` }).waitFor();
      await shot('runs');

      // Renamed, the run says so everywhere.
      await page
        .locator('[data-testid="run-row"]', { hasText: 'TPT' })
        .locator('[data-testid="run-rename"]')
        .click();
      await page.fill('[data-testid="run-rename-input"]', 'Hard cases');
      await page.press('[data-testid="run-rename-input"]', 'Enter');
      await page.locator('[data-testid="sidebar-run"]', { hasText: 'Hard cases' }).waitFor();
    });

    it('shows every image in the library with the adapted ones marked, and exports all of them', async () => {
      await tab('library');
      await page.locator('[data-testid="shown-view"]', { hasText: '+ 1 adapted (TPT)' }).waitFor();
      expect(await imageCount()).toBe(demoImages);
      await page.selectOption('[data-testid="filter-sort"]', 'entropy:desc');
      await page.waitForSelector('[data-testid="adapted-mark"]');
      expect(await page.textContent('[data-testid="adapted-mark"] >> nth=0')).toBe('Hard cases');
      await imagesLoaded('[data-testid="tile"] img');
      await page.click('[data-testid="tile"][data-index="0"]');
      await page.click('[data-testid="tile"][data-index="2"]', { modifiers: ['Shift'] });
      await shot('library');
      await page.keyboard.press('Escape');

      // The inspector shows the adapted result of an adapted image, with its views and run chips.
      await page.dblclick('[data-testid="tile"][data-index="0"]');
      await page.waitForSelector('[data-testid="view-tile"]');
      expect(await page.locator('[data-testid="view-tile"]').count()).toBe(tptViews);
      expect(await page.textContent('[data-testid="inspector-run-chips"]')).toContain(`${tptViews} views`);
      // Zero-shot's answer with its probability beside TPT's, and what TPT changed.
      expect(await page.innerText('[data-testid="verdict-zero-shot"]')).toMatch(/\d+\.\d% · H = /);
      await page.locator('[data-testid="verdict-change"]', { hasText: /^TPT (changed|kept)/ }).waitFor();
      await imagesLoaded('[data-testid="view-tile"] img');
      await shot('inspector');

      await page.click('[data-testid="open-export"]');
      await page.waitForSelector('[data-testid="export-dialog"]');
      expect(await page.inputValue('[data-testid="export-source"]')).toBe('view');
      await page.selectOption('[data-testid="export-include"]', 'predictions');
      const outDir = join(workspace, 'dataset');
      await page.fill('[data-testid="export-out"]', outDir);
      await shot('export');
      await page.click('[data-testid="export-start"]');
      await page.waitForSelector('[data-testid="export-result"]');
      expect(imageFiles(outDir)).toHaveLength(demoImages);
      await page.click('text=Done');
      await tab('library');
      await page.selectOption('[data-testid="filter-sort"]', 'id:asc');
    });

    it('reviews with the keyboard and undoes a bulk assignment in the library', async () => {
      await tab('review');
      await page.waitForSelector('[data-testid="review-image"]');
      // Imported ground truth is a hint beside the image, not a decision: every image is to review.
      const remaining = () => page.textContent('[data-testid="remaining-count"]');
      expect(await remaining()).toBe(String(demoImages));
      await page.locator('[data-testid="imported-label"]', { hasText: /^imported: \S/ }).waitFor();
      const path = () => page.textContent('[data-testid="review-path"]');
      const first = await path();
      // A accepts the prediction: a decision of the expert's, next to the imported label it keeps.
      await page.keyboard.press('a');
      await page.locator('[data-testid="review-path"]', { hasNotText: exactly(first!) }).waitFor();
      await page.locator('[data-testid="remaining-count"]', { hasText: String(demoImages - 1) }).waitFor();
      const shownRun = (await runsOf(demoId)).at(-1)!.id;
      const accepted = await api.call('browse.grid', {
        collectionId: demoId,
        runId: shownRun,
        layered: true,
        reviewState: 'labeled',
      });
      expect(accepted.items.map((i) => [i.relPath, i.labelSource, i.importedClass !== null])).toEqual([
        [first!.trim(), 'accepted', true],
      ]);
      const againstImported = await api.call('runs.evaluate', { runId: shownRun, against: 'imported' });
      expect(againstImported.labelled).toBe(againstImported.results);
      await page.keyboard.press('2');
      await page.locator('[data-testid="review-history"] li').nth(1).waitFor();
      await page.keyboard.press('Control+z');
      await page.locator('[data-testid="review-history"] li.undone').waitFor();
      await shot('review');
      await page.keyboard.press('?');
      await page.waitForSelector('[data-testid="shortcut-overlay"]');
      await page.screenshot({ path: join(screenshotDir, 'review-shortcuts.png') });
      await page.keyboard.press('Escape');

      await tab('library');
      const firstTwo = () =>
        api
          .call('browse.grid', { collectionId: demoId, runId: shownRun, limit: 2 })
          .then((page) => page.items.map((i) => [i.decision, i.labelSource, i.importedClass]));
      const before = await firstTwo();
      await page.click('[data-testid="tile"][data-index="0"]');
      await page.click('[data-testid="tile"][data-index="1"]', { modifiers: ['Shift'] });
      await page.selectOption('[data-testid="assign-class"]', { index: 2 });
      await page.click('[data-testid="assign-apply"]');
      await page.locator('[data-testid="tile"][data-index="1"] .badge.good').waitFor();
      await page.waitForSelector('[data-testid="notice-action"] >> text=Undo');
      await page.keyboard.press('Control+z');
      await page.locator('[data-testid="notice"]', { hasText: 'Undone: bulk-assign of 2 images' }).waitFor();
      // Back to what the images had, their imported labels untouched throughout.
      expect(await firstTwo()).toEqual(before);
      expect(before.every(([, , importedClass]) => importedClass !== null)).toBe(true);
    });

    it('re-scores after a prompt edit: the library shows the new predictions', async () => {
      const before = (await runsOf(demoId)).find((r) => r.method === 'zeroshot')!;
      await tab('classes');
      // The first class now reads as the second: the images predicted as the second class change.
      const second = await page.inputValue('[data-testid="class-name-1"]');
      await page.fill('[data-testid="class-prompt-0"]', `a photo of a ${second}.`);
      await page.click('[data-testid="save-classes"]');
      await page.waitForSelector('[data-testid="rescore-banner"] >> text=Prompts changed');
      await shot('classes');
      await page.click('[data-testid="rescore-banner"] button.primary');
      const after = await waitForRun(demoId, (r) => r.method === 'zeroshot' && r.id !== before.id);
      expect(after.promptVersion).toBe(2);
      await tab('library');
      await page.locator('[data-testid="shown-view"]', { hasText: `#${after.id} Zero-shot` }).waitFor();
      await page.locator('[data-testid="shown-view"]', { hasText: 'prompts v2' }).waitFor();
      // The old TPT layer belongs to the old prompts: the new view is the new run alone.
      expect(await page.locator('[data-testid="adapted-mark"]').count()).toBe(0);
      const grid = await api.call('browse.grid', {
        collectionId: demoId,
        runId: after.id,
        layered: true,
        limit: 1000,
      });
      const oldGrid = await api.call('browse.grid', { collectionId: demoId, runId: before.id, limit: 1000 });
      // Among the tiles on screen (the grid is virtual), one whose prediction the new prompts changed.
      await page.waitForSelector('[data-testid="tile"] .prediction');
      const onScreen = await page.locator('[data-testid="tile"]').count();
      const changed = grid.items
        .slice(0, onScreen)
        .findIndex((item, i) => item.predicted !== oldGrid.items[i].predicted);
      expect(changed).toBeGreaterThanOrEqual(0);
      const names = (await api.call('classSets.get', { classSetId: after.classSetId })).classes.map(
        (c) => c.name,
      );
      const tile = page.locator(`[data-testid="tile"][data-index="${changed}"]`);
      await tile
        .locator('.class-name', { hasText: exactly(names[grid.items[changed].predicted!]) })
        .waitFor();
    });

    it('rescans a folder after files were deleted, changed and added: summary and grid follow at once', async () => {
      const folder = join(workspace, 'field-photos');
      mkdirSync(folder);
      for (let i = 0; i < 6; i++) await writeScene(join(folder, `photo-${i}.png`), i);
      await page.click('[data-testid="sidebar-add-folder"]');
      await page.fill('.sidebar input', folder);
      await page.press('.sidebar input', 'Enter');
      await page.locator('[data-testid="image-count"]', { hasText: exactly('6 images') }).waitFor();
      await imagesLoaded('[data-testid="tile"] img');
      const changedSrc = await page.getAttribute('[data-testid="tile"][data-index="2"] img', 'src');

      rmSync(join(folder, 'photo-0.png'));
      rmSync(join(folder, 'photo-1.png'));
      await writeScene(join(folder, 'photo-2.png'), 100); // new content, same name
      copyFileSync(join(folder, 'photo-3.png'), join(folder, 'new-a.png'));
      await writeScene(join(folder, 'new-b.png'), 101);
      writeFileSync(join(folder, 'notes.txt'), 'field notes');
      await page.click('[data-testid="rescan"]');
      await page
        .locator('[data-testid="scan-summary"] summary', {
          hasText: '2 new, 1 changed, 0 moved, 2 removed, 0 unreadable, 1 skipped',
        })
        .waitFor();
      // What the scan left out is one click away, with why.
      await page.click('[data-testid="scan-summary"] summary');
      const skipped = page.locator('[data-testid="scan-skipped"]');
      expect(await skipped.count()).toBe(1);
      expect(await skipped.innerText()).toMatch(/^notes\.txt\s+not an image file type \(by its extension\)$/);
      // And which files were new, changed and removed, by name.
      const named = (kind: string) => page.locator(`[data-testid="scan-${kind}"] .path`).allInnerTexts();
      expect(await named('added')).toEqual(['new-a.png', 'new-b.png']);
      expect(await named('changed')).toEqual(['photo-2.png']);
      expect(await named('removed')).toEqual(['photo-0.png', 'photo-1.png']);
      await shot('scan-report');
      // The demo's introduction belongs to the demo, not to this folder's offer to score it.
      expect(await page.locator('[data-testid="score-offer"]').innerText()).not.toContain('The demo is open');
      await page.click('[data-testid="scan-summary"] summary');
      await page.locator('[data-testid="image-count"]', { hasText: exactly('6 images') }).waitFor();
      const collection = (await api.call('collections.list', {})).find((c) =>
        c.root.endsWith('field-photos'),
      )!;
      const sidebarCount = page.locator('[data-testid="collection-item"]', { hasText: 'field-photos' });
      expect(await sidebarCount.textContent()).toContain('6');
      expect(collection.imageCounts).toMatchObject({ ok: 6, missing: 2 });
      // The grid re-reads on the backend's event: gone files leave, new ones come, without a reload.
      await page.locator('[data-testid="tile"] .file', { hasText: 'new-b.png' }).waitFor();
      await page
        .locator('[data-testid="tile"] .file', { hasText: 'photo-0.png' })
        .waitFor({ state: 'detached' });
      const files = await page.locator('[data-testid="tile"] .file').allTextContents();
      expect(files.sort()).toEqual([
        'new-a.png',
        'new-b.png',
        'photo-2.png',
        'photo-3.png',
        'photo-4.png',
        'photo-5.png',
      ]);
      // The changed file's thumbnail is asked for anew (its address carries the new content).
      const index = files.indexOf('photo-2.png');
      const src = await page.getAttribute(`[data-testid="tile"][data-index="${index}"] img`, 'src');
      expect(src).not.toBe(changedSrc);
      await imagesLoaded('[data-testid="tile"] img');

      // A broken file stays counted and named as unreadable at the next scan, which does not re-read it.
      writeFileSync(join(folder, 'broken.png'), 'not a png');
      const summary = page.locator('[data-testid="scan-summary"] summary');
      await page.click('[data-testid="rescan"]');
      await summary
        .filter({ hasText: '1 new, 0 changed, 0 moved, 0 removed, 1 unreadable (1 new this scan)' })
        .waitFor();
      await page.click('[data-testid="rescan"]');
      await summary
        .filter({ hasText: '0 new, 0 changed, 0 moved, 0 removed, 1 unreadable (0 new this scan)' })
        .waitFor();
      await summary.click();
      expect(await page.locator('[data-testid="scan-failed"] .path').allInnerTexts()).toEqual(['broken.png']);
      await summary.click();
    });

    it('keeps the tab, the filters and the selection over a reload', async () => {
      await page.locator('[data-testid="collection-item"]', { hasText: 'demo' }).click();
      await page.waitForSelector('[data-testid="tile"] .prediction');
      await page.selectOption('[data-testid="filter-sort"]', 'entropy:desc');
      await page.selectOption('[data-testid="filter-predicted"]', { index: 1 });
      await page.fill('[data-testid="filter-confidence-min"]', '5');
      await page.press('[data-testid="filter-confidence-min"]', 'Tab');
      // What was typed stays, even where the grid's count for the class filter arrived meanwhile.
      expect(await page.inputValue('[data-testid="filter-confidence-min"]')).toBe('5');
      const predicted = await page.inputValue('[data-testid="filter-predicted"]');
      // What the filters select, as the API counts it; the grid shows that before anything is clicked.
      const [shown] = (await runsOf(demoId)).filter((r) => r.method === 'zeroshot');
      const { total } = await api.call('browse.grid', {
        collectionId: demoId,
        runId: shown.id,
        layered: true,
        predictedClass: Number(predicted),
        confidence: { min: 0.05 },
        limit: 1,
      });
      expect(total).toBeGreaterThan(1);
      await page.locator('[data-testid="image-count"]', { hasText: exactly(`${total} images`) }).waitFor();
      await page.waitForSelector('[data-testid="tile"][data-index="1"]');
      await page.click('[data-testid="tile"][data-index="0"]');
      await page.click('[data-testid="tile"][data-index="1"]', { modifiers: ['Control'] });

      await page.reload();
      await page.waitForSelector('[data-testid="tile"] .prediction');
      // Settled: the class names are in (the class filter's options) and the filtered grid is counted.
      await page.waitForSelector('[data-testid="filter-predicted"] option:nth-child(2)', {
        state: 'attached',
      });
      await page.locator('[data-testid="image-count"]', { hasText: exactly(`${total} images`) }).waitFor();
      expect(await page.getAttribute('[data-testid="tab-library"]', 'aria-selected')).toBe('true');
      // What the demo's scan found is kept by the backend, so the reload still shows it.
      await page
        .locator('[data-testid="scan-summary"] summary', { hasText: /^Last scan: 480 new/ })
        .waitFor();
      expect(await page.inputValue('[data-testid="filter-sort"]')).toBe('entropy:desc');
      expect(await page.inputValue('[data-testid="filter-predicted"]')).toBe(predicted);
      expect(await page.inputValue('[data-testid="filter-confidence-min"]')).toBe('5');
      await page.locator('[data-testid="selection-count"]', { hasText: /^\s*2 selected/ }).waitFor();
      expect(await page.locator('[data-testid="tile"].selected').count()).toBe(2);

      // Reset filters empties every box.
      await page.click('[data-testid="reset-filters"]');
      expect(await page.inputValue('[data-testid="filter-confidence-min"]')).toBe('');
      expect(await page.inputValue('[data-testid="filter-sort"]')).toBe('id:asc');

      await tab('models');
      await page.reload();
      await page.waitForSelector('[data-testid="tab-models"][aria-selected="true"]');
      // Serve mode: the scale-out card shows what its command line set (nothing), read-only.
      await page.locator('[data-testid="scale-out"]', { hasText: 'this machine only' }).waitFor();
      expect(await page.locator('[data-testid="scale-out-url"]').count()).toBe(0);
      await shot('models');
      // The Runs form comes back as it was left before the reloads: TPT, its preset, the views edited.
      await tab('runs');
      expect(await page.isChecked('[data-testid="method-tpt"]')).toBe(true);
      expect(await page.inputValue('[data-testid="run-preset"]')).toBe('fast-cpu');
      expect(await page.inputValue('[data-testid="param-views"]')).toBe(String(tptViews));
      expect(await page.isChecked('[data-testid="scope-uncertain"]')).toBe(true);
      await tab('library');
      await page.click('[data-testid="theme-toggle"]');
      await page.locator('html[data-theme="light"]').waitFor({ state: 'attached' });
      await imagesLoaded('[data-testid="tile"] img');
      await page.screenshot({ path: join(screenshotDir, 'library-light.png') });
      // Not one error in the page during the whole workflow (a failed request logs one).
      expect([...workbench.pageErrors, ...workbench.consoleErrors]).toEqual([]);
    });

    it('notices a stopped server', async () => {
      await stopServe(workbench.serve);
      await page.locator('[data-testid="save-indicator"]', { hasText: 'Disconnected' }).waitFor();
    });
  },
);
