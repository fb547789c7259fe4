// `metatpt index`: adds a folder as a collection (or finds it) and indexes it incrementally.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { createCollectionsService } from '../../backend/services/collections.js';
import { databasePath } from '../../backend/paths.js';
import { openStore } from '../../backend/store/index.js';
import { defineCommand } from '../command.js';
import type { CommandIo } from '../format.js';

interface IndexOptions {
  db?: string;
  name?: string;
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
      signal: io.interrupt,
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
    const { added, changed, removed, errors } = scan;
    if (values.json) {
      io.stdout(`${JSON.stringify({ collectionId: collection.id, added, changed, removed, errors })}\n`);
    } else {
      io.stdout(
        `collection ${collection.id} "${collection.name}" (${collection.root}): ${added} added, ${changed} changed, ` +
          `${scan.moved} moved, ${removed} removed, ${scan.unchanged} unchanged, ${errors} errors ` +
          `in ${(scan.durationMs / 1000).toFixed(1)} s\n`,
      );
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
        'Adds FOLDER as a collection (or rescans it if it is one): new, changed, moved and removed images.',
      )
      .argument('<FOLDER>', 'the folder of images')
      .option('--db <file>', "the workbench database, created if missing (default: the desktop app's)")
      .option('--name <name>', "the collection's name (default: the folder's name)")
      .option('--json', 'print {"collectionId","added","changed","removed","errors"}'),
  run: index,
});
