// Class sets: the list, the one in use, and the editor's draft (names, per-class prompts, template,
// context init). After prompts change, the view offers a zero-shot re-score (see runs store).
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { ClassDefinition, ClassSet } from '../../../shared/api.js';
import { DEFAULT_CONTEXT_INIT, DEFAULT_TEMPLATE } from '../../../shared/domain/adaptation.js';
import { urlNumber } from '../lib/url-state.js';
import { useApi } from '../api.js';
import { errorMessage } from '../lib/format.js';
import { useAppStore } from './app.js';

export interface ClassDraft {
  /** The class set being edited; null for a new one. */
  id: number | null;
  name: string;
  template: string;
  contextInit: string;
  classes: { name: string; prompt: string }[];
}

function emptyDraft(): ClassDraft {
  return { id: null, name: '', template: DEFAULT_TEMPLATE, contextInit: DEFAULT_CONTEXT_INIT, classes: [] };
}

function draftOf(set: ClassSet): ClassDraft {
  return {
    id: set.id,
    name: set.name,
    template: set.template,
    contextInit: set.contextInit,
    classes: set.classes.map((c) => ({ name: c.name, prompt: c.prompt ?? '' })),
  };
}

/** Problems that keep a draft from being saved, in words. */
export function draftProblems(draft: ClassDraft): string[] {
  const problems: string[] = [];
  if (!draft.name.trim()) problems.push('The class set needs a name.');
  const names = draft.classes.map((c) => c.name.trim());
  if (names.length === 0) problems.push('Add at least one class.');
  if (names.some((n) => !n)) problems.push('Every class needs a name.');
  const seen = new Set<string>();
  for (const n of names) {
    if (n && seen.has(n)) problems.push(`"${n}" appears twice.`);
    seen.add(n);
  }
  if (!draft.template.includes('{}')) problems.push('The template needs {} where the class name goes.');
  return problems;
}

/** A class set's name from the file or folder it came from: the last part, without a file's extension. */
export function nameFromPath(path: string, kind: 'file' | 'folders'): string {
  const last = path.split(/[\\/]/).filter(Boolean).pop() ?? '';
  return kind === 'file' ? last.replace(/(.)\.[^.]+$/, '$1') : last;
}

export const useClassSetsStore = defineStore('classSets', () => {
  const api = useApi();
  const app = useAppStore();
  const classSets = ref<ClassSet[]>([]);
  const loading = ref(false);
  const error = ref<string | null>(null);
  /** The class set being looked at, kept in the page address so that a reload keeps it (`k`). */
  const activeId = urlNumber('k');
  const draft = ref<ClassDraft>(emptyDraft());
  const importing = ref(false);
  /** Why the view offers a zero-shot run: a new class set, or prompts that changed; null for none. */
  const rescoreReason = ref<'new' | 'changed' | null>(null);

  const active = computed(() => classSets.value.find((s) => s.id === activeId.value) ?? null);
  const problems = computed(() => draftProblems(draft.value));
  const byId = (id: number | null | undefined) => classSets.value.find((s) => s.id === id) ?? null;
  const classNames = (id: number | null | undefined) => byId(id)?.classes.map((c) => c.name) ?? [];

  async function load(): Promise<void> {
    loading.value = true;
    try {
      classSets.value = await api.call('classSets.list', {});
      error.value = null;
      if (!active.value) activeId.value = classSets.value[0]?.id ?? null;
      if (draft.value.id === null && draft.value.classes.length === 0 && active.value) {
        draft.value = draftOf(active.value);
      }
    } catch (cause) {
      error.value = errorMessage(cause);
    } finally {
      loading.value = false;
    }
  }

  function edit(id: number | null): void {
    const set = byId(id);
    draft.value = set ? draftOf(set) : emptyDraft();
    if (set) activeId.value = set.id;
  }

  function addClass(name = ''): void {
    draft.value.classes.push({ name, prompt: '' });
  }

  function removeClass(index: number): void {
    draft.value.classes.splice(index, 1);
  }

  function moveClass(index: number, by: -1 | 1): void {
    const list = draft.value.classes;
    const target = index + by;
    if (target < 0 || target >= list.length) return;
    [list[index], list[target]] = [list[target], list[index]];
  }

  function useDefinitions(definitions: ClassDefinition[]): void {
    draft.value.classes = definitions.map((d) => ({ name: d.name, prompt: d.prompt ?? '' }));
  }

  async function importFrom(kind: 'file' | 'folders', path: string): Promise<boolean> {
    importing.value = true;
    try {
      if (kind === 'file') {
        const { classes, warnings } = await api.call('classSets.readFile', { path });
        useDefinitions(classes);
        for (const warning of warnings) app.notify('error', warning);
      } else {
        useDefinitions(await api.call('classSets.readFolders', { root: path }));
      }
      if (!draft.value.name.trim()) draft.value.name = nameFromPath(path, kind);
      return true;
    } catch (cause) {
      app.notify('error', errorMessage(cause));
      return false;
    } finally {
      importing.value = false;
    }
  }

  /** Saves the draft (creating or updating); returns the saved class set. */
  async function save(): Promise<ClassSet | null> {
    if (problems.value.length > 0) return null;
    const current = draft.value;
    const fields = {
      name: current.name.trim(),
      template: current.template,
      contextInit: current.contextInit,
      classes: current.classes.map((c) => ({ name: c.name.trim(), prompt: c.prompt.trim() || null })),
    };
    const before = byId(current.id);
    const saved = await app.save(() =>
      current.id === null
        ? api.call('classSets.create', fields)
        : api.call('classSets.update', { classSetId: current.id, patch: fields }),
    );
    if (!saved) return null;
    classSets.value = [...classSets.value.filter((s) => s.id !== saved.id), saved].sort((a, b) =>
      a.name.localeCompare(b.name),
    );
    activeId.value = saved.id;
    draft.value = draftOf(saved);
    if (before === null) rescoreReason.value = 'new';
    else if (promptText(before) !== promptText(saved)) rescoreReason.value = 'changed';
    return saved;
  }

  async function remove(id: number): Promise<void> {
    const done = await app.save(() => api.call('classSets.remove', { classSetId: id }));
    if (done === undefined) return;
    classSets.value = classSets.value.filter((s) => s.id !== id);
    if (activeId.value === id) activeId.value = classSets.value[0]?.id ?? null;
    edit(activeId.value);
  }

  function select(id: number): void {
    activeId.value = id;
    edit(id);
  }

  return {
    classSets,
    loading,
    error,
    activeId,
    active,
    draft,
    problems,
    importing,
    rescoreReason,
    byId,
    classNames,
    load,
    edit,
    addClass,
    removeClass,
    moveClass,
    importFrom,
    save,
    remove,
    select,
  };
});

/** What the text encoder sees of a class set; a change means zero-shot scores are out of date. */
function promptText(set: ClassSet): string {
  return JSON.stringify([set.template, set.classes.map((c) => [c.name, c.prompt])]);
}
