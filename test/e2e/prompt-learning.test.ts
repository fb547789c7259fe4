// Prompt learning in Chromium against real serve mode: open the demo and score it zero-shot, review
// some images with the keyboard (the demo's ground truth says which class), learn a CoOp and a Self-TPT
// prompt from them in the Classes view (validation accuracy before → after), run Self-TPT over the
// demo from the Runs view (scored from the cached image features), and compare it with zero-shot in
// the Runs view's evaluation against the imported ground truth (kept whole by reviewing; the images
// the prompt was trained on are left out of Self-TPT's score). The inspector names the learned prompt a result came from. Any page error fails the test.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunInfo } from '../../src/shared/api.js';
import type { HttpClient } from '../../src/shared/client-http.js';
import { classKeyLabel } from '../../src/renderer/src/lib/review-keys.js';
import {
  closeWorkbench,
  ensureRendererBuild,
  openWorkbench,
  repoRoot,
  screenshotFolder,
  skipReason,
  waitForDoneRun,
  type Workbench,
} from './serve-mode.js';

const demoDir = join(repoRoot, 'resources/demo');
/** Images the expert reviews: two per class on average, so most classes hold one out for validation. */
const reviewCount = 32;

/** The demo's ground truth: class name per image path. */
function demoTruth(): Map<string, string> {
  const [, ...rows] = readFileSync(join(demoDir, 'ground-truth.csv'), 'utf8').trim().split('\n');
  return new Map(rows.map((row) => row.split(',') as [string, string]));
}

/** The key press that assigns class `ordinal` in the review view (1–9, 0, then Shift+digit). */
function classKey(ordinal: number): string {
  const label = classKeyLabel(ordinal)!;
  return label.startsWith('⇧') ? `Shift+Digit${label.slice(1)}` : `Digit${label}`;
}

describe.skipIf(skipReason !== null)(
  `prompt learning in Chromium${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let workspace: string;
    let screenshotDir: string;
    let workbench: Workbench;
    let api: HttpClient;
    let page: Page;
    let demoId: number;
    let classSetId: number;

    const tab = (name: string) => page.click(`[data-testid="tab-${name}"]`);
    const shot = (name: string) => page.screenshot({ path: join(screenshotDir, `${name}.png`) });
    const waitForRun = (match: (run: RunInfo) => boolean) => waitForDoneRun(workbench, demoId, match);

    beforeAll(async () => {
      ensureRendererBuild();
      workspace = mkdtempSync(join(tmpdir(), 'metatpt-e2e-learn-'));
      screenshotDir = screenshotFolder(workspace);
      workbench = await openWorkbench(join(workspace, 'workbench.db'), 'dark');
      ({ api, page } = workbench);
    });

    afterAll(async () => {
      await closeWorkbench(workbench);
      if (workspace) rmSync(workspace, { recursive: true, force: true });
    });

    it('opens the demo and scores it zero-shot', async () => {
      await page.click('[data-testid="open-demo"]');
      await page.click('[data-testid="score-now"]');
      [{ id: demoId }] = await api.call('collections.list', {});
      [{ id: classSetId }] = await api.call('classSets.list', {});
      await waitForRun((r) => r.method === 'zeroshot');
    });

    it('reviews demo images with the keyboard', async () => {
      const truth = demoTruth();
      const [classSet] = await api.call('classSets.list', {});
      const ordinal = new Map(classSet.classes.map((c, i) => [c.name, i]));
      await tab('review');
      await page.waitForSelector('[data-testid="review-image"]');
      for (let n = 1; n <= reviewCount; n++) {
        const path = (await page.textContent('[data-testid="review-path"]'))!.trim();
        await page.keyboard.press(classKey(ordinal.get(truth.get(path)!)!));
        await page
          .locator('[data-testid="review-history"] li')
          .nth(n - 1)
          .waitFor();
        await page.keyboard.press('ArrowRight');
        await page.locator('[data-testid="review-path"]', { hasNotText: path }).waitFor();
      }
      const [model] = await api.call('models.list', {});
      expect(await api.call('prompts.labelCount', { classSetId, modelId: model.id })).toBe(reviewCount);
    });

    it('learns CoOp and Self-TPT prompts from the reviewed labels, with validation accuracy', async () => {
      await tab('classes');
      const learn = page.locator('[data-testid="learn-prompt"]');
      await learn.filter({ hasText: `Learn from ${reviewCount} reviewed labels` }).waitFor();
      await learn.click();
      await page.locator('[data-testid="learn-result"]', { hasText: 'saved as v1' }).waitFor();
      await page.check('[data-testid="learn-card"] input[value="selftpt"]');
      await learn.click();
      await page.locator('[data-testid="learn-result"]', { hasText: 'saved as v2' }).waitFor();

      const prompts = await api.call('prompts.list', { classSetId });
      expect(prompts.map((p) => [p.version, p.method, p.labelCount])).toEqual([
        [2, 'selftpt', reviewCount],
        [1, 'coop', reviewCount],
      ]);
      // What the card shows is what was stored: held-out accuracy before → after, per prompt.
      for (const prompt of prompts) {
        const { validationBefore, validationAfter } = prompt.accuracy;
        expect(validationBefore).not.toBeNull();
        const shown = await page
          .locator(`[data-testid="learned-prompt-${prompt.id}"] [data-testid="validation-accuracy"]`)
          .textContent();
        expect(shown!.replace(/\s+/g, ' ').trim()).toBe(
          `${(100 * validationBefore!).toFixed(0)}% → ${(100 * validationAfter!).toFixed(0)}%`,
        );
      }
      // Learned for exactly these classes: nothing for stage 2 to adapt.
      await page.locator('[data-testid="stage2-status"][data-state="ready"]').waitFor();
      await page.locator('[data-testid="learn-card"]').scrollIntoViewIfNeeded();
      await shot('learned-prompt');
    });

    it('runs Self-TPT from the Runs view and compares it with zero-shot', async () => {
      await tab('runs');
      await page.click('[data-testid="method-selftpt"]');
      await page.click('[data-testid="scope-collection"]');
      await page.click('[data-testid="start-run"]');
      const selfTpt = await waitForRun((r) => r.method === 'selftpt');
      const zeroShot = await waitForRun((r) => r.method === 'zeroshot');
      const [newest] = await api.call('prompts.list', { classSetId });
      expect(selfTpt).toMatchObject({ done: zeroShot.done, total: zeroShot.total });
      expect(selfTpt.params.learnedPrompt).toBe(newest.id);
      const history = page.locator('[data-testid="run-row"]', { hasText: `#${selfTpt.id} Self-TPT` });
      await history.filter({ hasText: `learned prompt #${newest.id}` }).waitFor();
      expect(await history.textContent()).not.toContain('undefined');

      // Against the imported ground truth, which reviewing left whole: every image for zero-shot, all
      // but those the prompt was trained on (its held-out images count) for Self-TPT.
      await page.selectOption('[data-testid="evaluation-against"]', 'imported');
      const trainedOn = newest.labelCount - newest.heldOutCount;
      for (const [run, judged] of [
        [selfTpt, zeroShot.total - trainedOn],
        [zeroShot, zeroShot.total],
      ] as const) {
        const evaluation = await api.call('runs.evaluate', { runId: run.id, against: 'imported' });
        expect(evaluation.labelled).toBe(judged);
        const row = page.locator(`[data-testid="evaluation-${run.id}"] td`);
        await row.filter({ hasText: `${judged} / ${zeroShot.total}` }).waitFor();
        expect((await row.nth(2).textContent())!.trim()).toMatch(
          new RegExp(`^${(100 * evaluation.comparison!.run.accuracy).toFixed(1)}%`),
        );
      }
      await shot('runs-selftpt');
    });

    it('the inspector names the learned prompt a Self-TPT result used', async () => {
      await tab('library');
      await page.dblclick('[data-testid="tile"][data-index="0"]');
      const card = page.locator('[data-testid="run-learned-prompt"]', { hasText: 'Self-TPT' });
      await card.waitFor();
      await card.scrollIntoViewIfNeeded();
      await shot('inspector-learned-prompt');
      expect(workbench.pageErrors).toEqual([]);
      expect(workbench.consoleErrors).toEqual([]);
    });

    it('adapts the Self-TPT prompt to renamed classes in the background, shown in the Classes view', async () => {
      await tab('classes');
      const status = page.locator('[data-testid="stage2-status"]');
      await status.and(page.locator('[data-state="ready"]')).waitFor();
      const [classSet] = await api.call('classSets.list', {});
      const classes = classSet.classes.map((c, i) => ({ name: i === 0 ? `${c.name} shape` : c.name }));
      await api.call('classSets.update', { classSetId, patch: { classes } });
      // Stage 2 loads the model in a worker first: seconds in which the card shows the job.
      await status.and(page.locator('[data-state="queued"], [data-state="running"]')).waitFor();
      await status.and(page.locator('[data-state="ready"]')).waitFor();
      const [model] = await api.call('models.list', {});
      expect(await api.call('prompts.stage2', { classSetId, modelId: model.id })).toMatchObject({
        state: 'ready',
        error: null,
      });
      expect(workbench.pageErrors).toEqual([]);
      expect(workbench.consoleErrors).toEqual([]);
    });
  },
);
