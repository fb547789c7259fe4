// The export dialog: the choices of export.run, its progress and its result.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { ApiEvents, ApiInput, ExportSummary } from '../../../shared/api.js';
import type { ExportInclude, LinkMode, UnlabeledMode } from '../../../shared/domain/export.js';
import { useApi } from '../api.js';
import { useAppStore } from './app.js';

export type ExportFormat = ApiInput<'export.run'>['format'];
export type ExportProgress = ApiEvents['export.progress'];

export const exportFormats: { value: ExportFormat; label: string; hint: string }[] = [
  {
    value: 'imagefolder',
    label: 'Class folders (ImageFolder)',
    hint: 'root/<class>/<image> — torchvision, Keras, timm',
  },
  { value: 'yolo-cls', label: 'Ultralytics YOLO classification', hint: 'train/ val/ test/ of class folders' },
  {
    value: 'csv',
    label: 'CSV',
    hint: 'path,label,confidence (of predicted labels),source… relative to the CSV',
  },
  { value: 'jsonl', label: 'JSON Lines', hint: 'one record per image with provenance' },
  {
    value: 'hf-imagefolder',
    label: 'Hugging Face imagefolder',
    hint: 'images + metadata.jsonl (file_name, label)',
  },
  { value: 'labelstudio', label: 'Label Studio JSON', hint: 'tasks with annotations and predictions' },
];

export interface ExportChoices {
  /** 'view': the run with the runs layered on it (every image); 'run': the run's own results only. */
  source: 'view' | 'run';
  format: ExportFormat;
  outDir: string;
  include: ExportInclude;
  minConfidence: number;
  split: boolean;
  train: number;
  val: number;
  test: number;
  seed: number;
  link: LinkMode;
  unlabeled: UnlabeledMode;
}

export function defaultChoices(): ExportChoices {
  return {
    source: 'view',
    format: 'imagefolder',
    outDir: '',
    include: 'reviewed',
    minConfidence: 0,
    split: false,
    train: 0.8,
    val: 0.1,
    test: 0.1,
    seed: 0,
    link: 'copy',
    unlabeled: 'omit',
  };
}

/** The export.run input for the dialog's choices. */
export function exportRequest(runId: number, c: ExportChoices): ApiInput<'export.run'> {
  const needsSplit = c.split || c.format === 'yolo-cls';
  return {
    runId,
    layered: c.source === 'view',
    format: c.format,
    outDir: c.outDir.trim(),
    include: c.include,
    ...(c.include === 'predictions' && c.minConfidence > 0 && { minConfidence: c.minConfidence }),
    ...(needsSplit && {
      split: { train: c.train, val: c.val, ...(c.test > 0 && { test: c.test }), seed: c.seed },
    }),
    link: c.link,
    unlabeled: c.unlabeled,
  };
}

export const useExportsStore = defineStore('exports', () => {
  const api = useApi();
  const app = useAppStore();
  const choices = ref<ExportChoices>(defaultChoices());
  const running = ref(false);
  const progress = ref<ExportProgress | null>(null);
  const result = ref<ExportSummary | null>(null);

  api.on('export.progress', (update) => {
    if (running.value) progress.value = update;
  });

  async function start(runId: number): Promise<void> {
    running.value = true;
    progress.value = null;
    result.value = null;
    try {
      result.value =
        (await app.attempt(() => api.call('export.run', exportRequest(runId, choices.value)))) ?? null;
    } finally {
      running.value = false;
    }
  }

  function reset(): void {
    result.value = null;
    progress.value = null;
  }

  return { choices, running, progress, result, start, reset };
});
