// `metatpt learn`: learns a class set's prompt from its labelled images (CoOp, or Self-TPT's source
// training and class adaptation) and stores it as the class set's next learned prompt version.
import type { LearnProgress } from '../../shared/domain/learned-prompts.js';
import { modelRecordForFolder } from '../../backend/model-registry.js';
import { databasePath } from '../../backend/paths.js';
import type { LearnedPromptSummary, Store } from '../../backend/store/index.js';
import { learnSettingsSchema, type LearnSettings } from '../../engine/adapt/learn.js';
import { flagOf, oneOf, parseDevice, parseNumber, requireOption } from '../args.js';
import { defineCommand, UsageError } from '../command.js';
import { describeIssues } from '../../shared/domain/issues.js';
import { openCliBackend } from '../backend.js';
import type { CommandIo } from '../format.js';

interface LearnOptions {
  db?: string;
  classSet?: string;
  model?: string;
  device: string;
  method: string;
  epochs?: string;
  lr?: string;
  validation?: string;
  seed?: string;
  adaptSteps?: string;
  json?: boolean;
}

/** Each numeric option and the learning setting it gives (learnSettingsSchema). */
const SETTING_OF = {
  epochs: 'epochs',
  lr: 'lr',
  validation: 'validationFraction',
  seed: 'seed',
  adaptSteps: 'adaptSteps',
} as const satisfies Partial<Record<keyof LearnOptions, keyof LearnSettings>>;

/** The option that gives each setting, for messages. */
const OPTION_OF: Record<string, string> = Object.fromEntries(
  Object.entries(SETTING_OF).map(([option, setting]) => [setting, option]),
);

function classSetOf(store: Store, nameOrId: string): number {
  const byName = store.classSets.getByName(nameOrId);
  if (byName) return byName.id;
  const id = Number(nameOrId);
  if (Number.isInteger(id) && store.classSets.get(id)) return id;
  throw new UsageError(`--class-set "${nameOrId}": no class set with that name or id`);
}

const percent = (x: number | null) => (x === null ? 'n/a' : `${(100 * x).toFixed(1)} %`);

function describe(p: LearnedPromptSummary): string {
  const { accuracy } = p;
  return (
    `learned prompt ${p.id} (version ${p.version}, ${p.method}) from ${p.labelCount} labels, ${p.heldOutCount} held out\n` +
    `  validation accuracy ${percent(accuracy.validationBefore)} → ${percent(accuracy.validationAfter)}` +
    ` (training ${percent(accuracy.trainBefore)} → ${percent(accuracy.trainAfter)})\n` +
    `  nearest tokens: ${p.nearestTokens.map((near) => near[0]).join(' ')}\n`
  );
}

async function learn(values: LearnOptions, io: CommandIo): Promise<number> {
  const method = oneOf(values.method, ['coop', 'selftpt'] as const, 'method');
  const settings: Record<string, number> = {};
  for (const [option, setting] of Object.entries(SETTING_OF)) {
    const value = parseNumber(values[option as keyof typeof SETTING_OF], flagOf(option).slice(2));
    if (value !== undefined) settings[setting] = value;
  }
  const parsed = learnSettingsSchema.safeParse(settings);
  if (!parsed.success)
    throw new UsageError(
      describeIssues(parsed.error, { field: (setting) => flagOf(OPTION_OF[setting] ?? setting) }),
    );
  const backend = await openCliBackend(databasePath(values.db), {
    provider: parseDevice(values.device),
    resumeRuns: false,
  });
  try {
    const { store, services } = backend;
    const classSetId = classSetOf(store, requireOption(values.classSet, 'class-set'));
    const modelId = modelRecordForFolder(store, requireOption(values.model, 'model')).id;
    const onInterrupt = () => services.learnedPrompts.cancel(classSetId);
    io.interrupt?.addEventListener('abort', onInterrupt, { once: true });
    const report = ({ phase, done, total, validationAccuracy }: LearnProgress) => {
      if (values.json) return;
      const detail =
        phase === 'train' && validationAccuracy != null ? `, validation ${percent(validationAccuracy)}` : '';
      io.stderr(`${phase === 'encode' ? 'encoding image' : 'epoch'} ${done}/${total}${detail}\n`);
    };
    try {
      const learned = await services.learnedPrompts.learn(
        { classSetId, modelId, method, settings: parsed.data },
        report,
      );
      io.stdout(values.json ? `${JSON.stringify(learned)}\n` : describe(learned));
      return 0;
    } catch (error) {
      if (io.interrupt?.aborted) {
        io.stderr('metatpt: learning cancelled; nothing was stored\n');
        return 130;
      }
      throw error;
    } finally {
      io.interrupt?.removeEventListener('abort', onInterrupt);
    }
  } finally {
    await backend.close();
  }
}

export const learnCommand = defineCommand<LearnOptions>({
  name: 'learn',
  summary: "learn a class set's prompt from its labelled images (CoOp or Self-TPT)",
  define: (command) =>
    command
      .usage('[--db FILE] --class-set NAME_OR_ID --model DIR [--method coop|selftpt] [options]')
      .description(
        "Learns the class set's prompt from every image you labelled in it (by hand or by accepting a " +
          'prediction; imported labels are not learned from, they stay ground truth to evaluate against) and ' +
          'stores it as its next version; runs use it with --method coop, selftpt or selftpt-v, or as ' +
          "TPT's start (--learned-prompt ID). A share of each class's labels is held out to stop early and to report.",
      )
      .option('--db <file>', "the workbench database (default: the desktop app's)")
      .option('--class-set <s>', 'the class set, by name or id')
      .option('--model <dir>', 'CLIP model folder; registered in the database if new')
      .option('--device <d>', 'auto | cpu | cuda | dml | coreml', 'auto')
      .option('--method <m>', 'coop | selftpt', 'coop')
      .option('--epochs <n>', 'most passes over the training labels (early stopping ends sooner)')
      .option('--lr <x>', 'AdamW learning rate of the context')
      .option('--validation <x>', "fraction of each class's labels held out (default 0.2)")
      .option('--seed <s>', 'seed of the split and batch order (default 0)')
      .option('--adapt-steps <n>', 'selftpt: CPT steps on the class names (stage 2)')
      .option('--json', "print the stored prompt's summary as JSON"),
  run: (values, _args, io) => learn(values, io),
});
