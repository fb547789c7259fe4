// The Runs view's evaluation in Chromium against real serve mode: a folder indexed by the CLI, a TPT
// and a zero-shot run whose results and labels are the hand-computed case of the backend tests
// (test/backend/services/evaluation-fixture.ts), the table and chart, and the one-click "fixed" and "broken"
// filters in the library.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeImageFolder } from '../../scripts/make-image-folder.js';
import { openStore } from '../../src/backend/store/index.js';
import { runCli } from '../../src/cli/command.js';
import { commands } from '../../src/cli/commands.js';
import type { HttpClient } from '../../src/shared/client-http.js';
import { EVALUATION_CASES, recordEvaluatedRuns } from '../backend/services/evaluation-fixture.js';
import { seedClassSetAndModel } from '../backend/helpers.js';
import {
  closeWorkbench,
  ensureRendererBuild,
  openWorkbench,
  skipReason,
  type Workbench,
} from './serve-mode.js';

describe.skipIf(skipReason !== null)(
  `run evaluation in Chromium${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let workspace: string;
    let workbench: Workbench;
    let api: HttpClient;
    let page: Page;
    let runs: { tpt: number; zeroShot: number };

    beforeAll(async () => {
      ensureRendererBuild();
      workspace = mkdtempSync(join(tmpdir(), 'metatpt-e2e-eval-'));
      const folder = join(workspace, 'photos');
      await makeImageFolder({ out: folder, count: EVALUATION_CASES.length, size: 48 });
      const db = join(workspace, 'workbench.db');
      const quiet = { stdout: () => {}, stderr: () => {}, stderrIsTTY: false };
      expect(await runCli(commands, ['index', '--db', db, folder], quiet)).toBe(0);
      const store = openStore(db);
      const [collection] = store.collections.list();
      const imageIds = store.grid.query({ collectionId: collection.id }).items.map((i) => i.imageId);
      const { tpt, zeroShot } = recordEvaluatedRuns(store, {
        collection,
        imageIds,
        ...seedClassSetAndModel(store),
      });
      store.runs.setStatus(tpt.id, 'done');
      store.runs.setStatus(zeroShot.id, 'done');
      store.close();
      runs = { tpt: tpt.id, zeroShot: zeroShot.id };

      workbench = await openWorkbench(db, 'light');
      ({ api, page } = workbench);
    });

    afterAll(async () => {
      await closeWorkbench(workbench);
      if (workspace) rmSync(workspace, { recursive: true, force: true });
    });

    const row = (runId: number) => page.locator(`[data-testid="evaluation-${runId}"] td`);

    it('shows each run against its zero-shot predictions, as the API computes it', async () => {
      await page.click('[data-testid="tab-runs"]');
      await page.waitForSelector(`[data-testid="evaluation-${runs.tpt}"]`);
      const evaluation = await api.call('runs.evaluate', { runId: runs.tpt });
      expect(evaluation.comparison).toMatchObject({ fixed: 2, broken: 1 });
      const cells = (await row(runs.tpt).allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
      // Accuracy 3 of 5 (Wilson 23.1–88.2 %), zero-shot 2 of 5 (11.8–76.9 %), p = 1, ECE 0.340 / 0.510.
      expect(cells).toEqual([
        `#${runs.tpt} TPT`,
        '5 / 6',
        '60.0% 23.1%–88.2%',
        '40.0% 11.8%–76.9%',
        '2',
        '1',
        '1.000',
        '0.340 / 0.510',
        '363 ms / 13 ms',
      ]);
      expect(await page.locator('[data-testid="accuracy-chart"] circle').count()).toBe(4);
    });

    it('opens the library on the fixed and the broken images in one click', async () => {
      await page.click(`[data-testid="show-fixed-${runs.tpt}"]`);
      await page.locator('[data-testid="image-count"]', { hasText: /^\s*2 images\s*$/ }).waitFor();
      expect(await page.inputValue('[data-testid="versus-zero-shot"]')).toBe('fixed');
      await page.click('[data-testid="tab-runs"]');
      await page.click(`[data-testid="show-broken-${runs.tpt}"]`);
      await page.locator('[data-testid="image-count"]', { hasText: /^\s*1 images\s*$/ }).waitFor();
      expect(await page.inputValue('[data-testid="versus-zero-shot"]')).toBe('broken');
      expect(workbench.pageErrors).toEqual([]);
    });

    it('compares against imported labels alone when asked', async () => {
      await page.click('[data-testid="tab-runs"]');
      await page.selectOption('[data-testid="evaluation-against"]', 'imported');
      await page.locator(`[data-testid="evaluation-${runs.tpt}"] td`, { hasText: '3 / 6' }).waitFor();
      expect((await row(runs.tpt).nth(2).textContent())?.trim()).toMatch(/^100\.0%/);
    });
  },
);
