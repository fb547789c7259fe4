// How a run reads: its title (the user's name, or "#id Method"), its settings in short and in full,
// and what it ran with — so that two runs are told apart at a glance (a paper-preset and a fast
// MetaTPT run differ in their chips, not only in their number).
import type { RunInfo, SettingValue } from '../../../shared/api.js';
import { NUMBER_SETTINGS, OTHER_SETTINGS, PRESETS } from '../../../shared/domain/adaptation.js';
import { count, dateTime, duration, methodName } from './format.js';

/** Each setting's label, from the one settings table. */
const settingLabels: Record<string, string> = Object.fromEntries(
  Object.entries({ ...NUMBER_SETTINGS, ...OTHER_SETTINGS }).map(([key, setting]) => [key, setting.label]),
);

function settingText(key: string, value: SettingValue): string {
  if (value === null) return key === 'preset' ? 'none' : 'all';
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (key === 'preset' && typeof value === 'string' && Object.hasOwn(PRESETS, value))
    return PRESETS[value as keyof typeof PRESETS].label;
  return String(value);
}

/** "#3 TPT", or the name the user gave it. */
export function runTitle(run: Pick<RunInfo, 'id' | 'method' | 'name'>): string {
  return run.name ?? `#${run.id} ${methodName(run.method)}`;
}

/**
 * The settings that tell runs of a method apart, short: "fast-cpu · 16 views · 1 step · two-stage",
 * "learned prompt #3". Only the settings the method has (the backend gives no others).
 */
export function settingsChips(run: Pick<RunInfo, 'method' | 'settings'>): string[] {
  const s = run.settings;
  // A precision other than fp32 changes every method's numbers, so it is always shown.
  const precision = typeof s.precision === 'string' && s.precision !== 'fp32' ? [s.precision] : [];
  if (run.method === 'zeroshot') return precision;
  const chips: string[] = [];
  // Presets set views and steps: methods without either (CoOp, Self-TPT) have nothing they set.
  if ('views' in s) chips.push(typeof s.preset === 'string' ? s.preset : 'custom', `${s.views} views`);
  if ('steps' in s) chips.push(`${s.steps} step${s.steps === 1 ? '' : 's'}`);
  if (run.method === 'metatpt') chips.push(`${s.innerSteps} view step${s.innerSteps === 1 ? '' : 's'}`);
  if (run.method === 'metatpt' && s.variant !== 'two-stage') chips.push(String(s.variant));
  if (s.augmix === true) chips.push('AugMix');
  if (typeof s.learnedPrompt === 'number') chips.push(`learned prompt #${s.learnedPrompt}`);
  return [...chips, ...precision];
}

/** Every setting, labelled, in the order the backend gives them. */
export function settingsList(run: Pick<RunInfo, 'settings'>): { label: string; value: string }[] {
  return Object.entries(run.settings).map(([key, value]) => ({
    label: settingLabels[key] ?? key,
    value: settingText(key, value),
  }));
}

/** Processing time without pauses and stops ("≈" where the run is older than that record). */
export function activeTime(run: Pick<RunInfo, 'activeMs' | 'startedAt' | 'finishedAt'>): string {
  if (run.activeMs !== null) return duration(run.activeMs / 1000);
  if (run.startedAt === null) return '–';
  return `≈ ${duration(((run.finishedAt ?? Date.now()) - run.startedAt) / 1000)}`;
}

/** The class set and prompt version: "Shapes · prompts v2". */
export function classesText(run: Pick<RunInfo, 'classSetName' | 'classSetId' | 'promptVersion'>): string {
  const name = run.classSetName ?? `class set ${run.classSetId}`;
  return run.promptVersion === null ? name : `${name} · prompts v${run.promptVersion}`;
}

/** What a run is, in full, one fact a line: for tooltips. */
export function runDescription(run: RunInfo): string {
  return [
    `${runTitle(run)} — ${methodName(run.method)}, ${run.status}`,
    `Images: ${count(run.done)} of ${count(run.total)}${run.failed ? `, ${count(run.failed)} failed` : ''}`,
    `Classes: ${classesText(run)}`,
    `Model: ${run.modelName ?? `model ${run.modelId}`}`,
    `Device: ${run.device ?? '–'}`,
    `Time (without pauses): ${activeTime(run)}`,
    `Created: ${dateTime(run.createdAt)}`,
    ...(run.baseRunId !== null ? [`Layered on run #${run.baseRunId}`] : []),
    ...settingsList(run).map(({ label, value }) => `${label}: ${value}`),
  ].join('\n');
}
