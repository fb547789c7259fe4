// `metatpt index`: adds a folder as a collection (or finds it) and indexes it incrementally.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { createCollectionsService } from '../../backend/services/collections.js';
import { databasePath } from '../../backend/paths.js';
import { openStore } from '../../backend/store/index.js';
import { defineCommand } from '../command.js';
import type { CommandIo } from '../format.js';
import { SKIP_REASON_TEXT, summariseSkipped } from '../../shared/domain/image-types.js';

/** Skipped entries named in the text summary; --json names every path of every kind. */
const SKIPPED_NAMED = 20;

interface IndexOptions {
  db?: string;
  name?: string;
  followLinks?: boolean;
  json?: boolean;
}

async function index(values: IndexOptions, [folder]: string[], io: CommandIo): Promise<number> {
  const file = databasePath(values.db);
  mkdirSync(path.dirname(file), { recursive: true }); // the app's data folder, before the app first ran
  const store = openStore(file);
  try {
    let lastDrawn = 0;
    const showProgress = !values.json && io.stderrIsTTY;
    const { collection, scan } = await createCollectionsService({ store }).addFolder(folder, {
      name: values.name,
      followLinksOutside: values.followLinks,
      signal: io.interrupt,
      listLimit: values.json ? Infinity : undefined,
      onProgress: showProgress
        ? ({ seen, added, changed }) => {
            const now = Date.now();
            if (now - lastDrawn < 100) return;
            lastDrawn = now;
            io.stderr(`\r\x1b[2K${seen} files seen, ${added} new, ${changed} changed`);
          }
        : undefined,
    });
    if (showProgress) io.stderr('\r\x1b[2K');
    const { added, changed, removed, errors, unreadable, skippedCount, skipped, failed } = scan;
    if (values.json) {
      io.stdout(`${JSON.stringify(scan)}\n`);
    } else {
      io.stdout(
        `collection ${collection.id} "${collection.name}" (${collection.root}): ${added} added, ${changed} changed, ` +
          `${scan.moved} moved, ${removed} removed, ${scan.unchanged} unchanged, ` +
          `${unreadable} unreadable (${errors} new this scan) in ${(scan.durationMs / 1000).toFixed(1)} s\n`,
      );
      for (const { path: failedPath, error } of failed) io.stdout(`  unreadable: ${failedPath}: ${error}\n`);
      if (unreadable > failed.length)
        io.stdout(`  … and ${unreadable - failed.length} more (--json lists them)\n`);
      if (skippedCount > 0) {
        io.stdout(`skipped ${skippedCount} entries (${summariseSkipped(skipped)}):\n`);
        for (const entry of skipped.slice(0, SKIPPED_NAMED))
          io.stdout(`  ${entry.path}: ${SKIP_REASON_TEXT[entry.reason]}\n`);
        if (skippedCount > SKIPPED_NAMED)
          io.stdout(`  … and ${skippedCount - SKIPPED_NAMED} more (--json lists them)\n`);
      }
    }
    return 0;
  } finally {
    store.close();
  }
}

export const indexCommand = defineCommand<IndexOptions>({
  name: 'index',
  summary: 'add a folder as a collection and index its images (incremental)',
  define: (command) =>
    command
      .description(
        'Adds FOLDER as a collection (or rescans it if it is one): new, changed, moved and removed images.\n' +
          "Entries that are not images (other files, hidden entries, links out of FOLDER, the app's own\n" +
          'export and thumbnail folders) are skipped, counted and named with the reason.',
      )
      .argument('<FOLDER>', 'the folder of images')
      .option('--db <file>', "the workbench database, created if missing (default: the desktop app's)")
      .option('--name <name>', "the collection's name (default: the folder's name)")
      .option('--follow-links', 'follow symbolic links that lead out of FOLDER (default: skip and name them)')
      .option(
        '--json',
        'print the scan as JSON, every path named: {"collectionId","added","changed","moved","removed",\n' +
          '"unchanged","errors" (unreadable images found by this scan),"unreadable" (all the collection\'s),\n' +
          '"addedPaths","changedPaths","movedPaths":[{"from","to"}],"removedPaths","failed":[{"path","error"}],\n' +
          '"skippedCount","skipped":[{"path","reason"}],"durationMs"}',
      ),
  run: index,
});
