// `metatpt run`: creates a run over a collection (zero-shot, TPT or MetaTPT) and executes it in the
// foreground, through the same job queue and engine worker as the app; or continues a run that was
// interrupted. Ctrl-C or SIGTERM pause it after the image in flight: `--resume` continues it later.
import { basename, extname } from 'node:path';
import type { Backend } from '../../backend/app.js';
import { modelRecordForFolder } from '../../backend/model-registry.js';
import { databasePath } from '../../backend/paths.js';
import type { ClassSet, Run } from '../../backend/store/index.js';
import {
  ADAPT_OPTION_NAMES,
  CLASS_OPTION_NAMES,
  addAdaptOptions,
  addClassOptions,
  addModelOptions,
  adaptParamsFromArgs,
  classSpecFromArgs,
  flagOf,
  parseDevice,
  parseId,
  type AdaptOptionValues,
  type ClassOptionValues,
  type ClassSpec,
  type ModelOptionValues,
} from '../args.js';
import { defineCommand, UsageError } from '../command.js';
import { openCliBackend } from '../backend.js';
import { embeddedModelDir } from '../resources.js';
import { ProgressLine, type CommandIo } from '../format.js';

/** Unreadable images named when a run starts; the rest are counted. */
const UNREADABLE_NAMED = 20;

interface RunOptions extends ModelOptionValues, ClassOptionValues, AdaptOptionValues {
  db?: string;
  collection?: string;
  resume?: string;
  json?: boolean;
}

/** Options that only describe a new run, and so make no sense with --resume. */
const NEW_RUN_OPTIONS = ['collection', 'model', ...CLASS_OPTION_NAMES, ...ADAPT_OPTION_NAMES] as const;

const sameClasses = (classSet: ClassSet, spec: ClassSpec) =>
  classSet.template === spec.template &&
  classSet.classes.length === spec.names.length &&
  classSet.classes.every((c, i) => c.name === spec.names[i] && c.prompt === spec.prompts[i]);

/**
 * A class set with exactly these classes, prompts and template: an existing one, or a new one. Looked
 * up and created under the write lock, so two runs started together agree on one class set.
 */
function classSetFor(backend: Backend, spec: ClassSpec, file: string | undefined): ClassSet {
  return backend.store.writeTransaction(() => {
    const existing = backend.store.classSets.list().find((classSet) => sameClasses(classSet, spec));
    if (existing) return existing;
    const base = file ? basename(file, extname(file)) : spec.names.join(', ').slice(0, 80);
    let name = base;
    for (let n = 2; backend.store.classSets.getByName(name); n++) name = `${base} (${n})`;
    return backend.services.classSets.create({
      name,
      template: spec.template,
      classes: spec.names.map((className, i) => ({ name: className, prompt: spec.prompts[i] })),
    });
  });
}

/**
 * Starts the run (queues it: `start` returns its id) and waits until it ends or the user stops it;
 * returns its final state.
 */
async function execute(
  backend: Backend,
  start: () => number,
  io: CommandIo,
  stop: AbortSignal,
): Promise<Run> {
  const { store, executor, events } = backend;
  let runId: number | null = null;
  let progress = null as ProgressLine | null; // made on the first event: the total is known then
  const offProgress = events.on('run.progress', (p) => {
    // Events come as an image starts and as it ends; the last end has no image after it to show.
    if (p.runId !== runId || !p.currentImage || p.done + p.failed >= p.total) return;
    progress ??= new ProgressLine(p.total, io.stderr, { inPlace: io.stderrIsTTY, columns: io.stderrColumns });
    progress.update(p.done + p.failed, p.currentImage);
  });
  const pause = () => void (runId !== null && executor.pause(runId));
  stop.addEventListener('abort', pause, { once: true });
  try {
    runId = start();
    if (stop.aborted) pause();
    await executor.idle();
  } finally {
    stop.removeEventListener('abort', pause);
    offProgress();
    progress?.clear();
  }
  return store.runs.require(runId);
}

async function runOrResume(values: RunOptions, _args: string[], io: CommandIo): Promise<number> {
  const resumeId = values.resume === undefined ? undefined : parseId(values.resume, 'resume');
  if (resumeId !== undefined) {
    const extra = NEW_RUN_OPTIONS.filter((name) => values[name] !== undefined).map(flagOf);
    if (extra.length > 0)
      throw new UsageError(`--resume continues a run as it was created; drop ${extra.join(', ')}`);
  }
  const collectionId = resumeId === undefined ? parseId(values.collection, 'collection') : undefined;
  const classes = resumeId === undefined ? await classSpecFromArgs(values) : undefined;
  for (const warning of classes?.warnings ?? []) io.stderr(`metatpt: warning: ${warning}\n`);
  const params = adaptParamsFromArgs(values);
  const modelDir = resumeId === undefined ? (values.model ?? embeddedModelDir()) : undefined;

  // SIGINT arrives through io.interrupt; SIGTERM (a service manager stopping us) is handled the same.
  const stop = new AbortController();
  io.interrupt?.addEventListener('abort', () => stop.abort(), { once: true });
  const onTerm = () => stop.abort();
  process.once('SIGTERM', onTerm);
  const backend = await openCliBackend(databasePath(values.db), {
    provider: parseDevice(values.device),
    resumeRuns: false,
  });
  try {
    const { store, services, executor } = backend;
    const startRun = (): number => {
      if (resumeId !== undefined) {
        // Paused, queued, left running by a process that is gone, or failed with images left; a run
        // another live process executes is refused with its owner named.
        executor.enqueue(resumeId);
        return resumeId;
      }
      const { method, ...settings } = params;
      // Collection and model first: a mistake in either must not leave a new class set behind.
      store.collections.require(collectionId!);
      const modelId = modelRecordForFolder(store, modelDir!).id;
      const run = services.runs.start({
        collectionId: collectionId!,
        classSetId: classSetFor(backend, classes!, values.classesFile).id,
        modelId,
        method: method ?? 'zeroshot',
        params: settings,
        scope: { kind: 'collection' },
      });
      io.stderr(`run ${run.id}: ${run.method} on ${run.total} images of collection ${collectionId}\n`);
      // Images that could not be read at indexing are not in the run: say so, with where they are listed.
      const unreadable = store.images.countByStatus(collectionId!).error;
      if (unreadable > 0) {
        io.stderr(
          `run ${run.id}: ${unreadable} images of the collection are left out, unreadable when indexed:\n`,
        );
        for (const image of store.images.unreadable(collectionId!, UNREADABLE_NAMED))
          io.stderr(`  ${image.relPath}: ${image.error}\n`);
        if (unreadable > UNREADABLE_NAMED) io.stderr(`  … and ${unreadable - UNREADABLE_NAMED} more\n`);
      }
      return run.id;
    };
    const run = await execute(backend, startRun, io, stop.signal);
    const runId = run.id;
    const { status, total, done, failed } = run;
    if (values.json) io.stdout(`${JSON.stringify({ runId, status, total, done, failed })}\n`);
    else {
      io.stdout(
        `run ${runId} ${status}: ${done}/${total} done, ${failed} failed` +
          (status === 'paused' ? ` (continue with: metatpt run --resume ${runId})` : '') +
          (run.error ? `\n  ${run.error}` : '') +
          '\n',
      );
    }
    return status === 'done' ? 0 : status === 'paused' ? 130 : 1;
  } finally {
    process.removeListener('SIGTERM', onTerm);
    await backend.close();
  }
}

export const runCommand = defineCommand<RunOptions>({
  name: 'run',
  summary: 'classify or adapt a collection as a stored run (foreground; resumable)',
  define: (command) => {
    command
      .usage('[--db FILE] --collection ID [--model DIR] (--classes "a,b" | --classes-file F) [options]')
      .description(
        "Runs a method over a collection's images and stores the results (the app shows them); " +
          'or, with --resume RUN_ID, continues a paused or interrupted run.',
      )
      .option('--db <file>', "the workbench database (default: the desktop app's)")
      .option('--collection <id>', 'the collection (see metatpt index / status)');
    addAdaptOptions(addClassOptions(addModelOptions(command)))
      .option('--resume <run-id>', 'continue a paused or interrupted run')
      .option('--json', 'print {"runId","status","total","done","failed"} when the run stops')
      .addHelpText(
        'after',
        '\nCtrl-C or SIGTERM pause the run after the image in flight; exit code 130 then, 1 if the run failed.',
      );
  },
  run: runOrResume,
});
