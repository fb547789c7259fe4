// Class sets as the API and the store know them: named classes, with the prompt template they share.

export interface ClassDefinition {
  name: string;
  /** Overrides the class set's template for this class. */
  prompt?: string | null;
}

export interface ClassInfo {
  ordinal: number;
  name: string;
  prompt: string | null;
}

export interface ClassSet {
  id: number;
  name: string;
  template: string;
  contextInit: string;
  classes: ClassInfo[];
  /** Goes up by one whenever what the text encoder sees (template, class names, prompts) changes. */
  promptVersion: number;
  createdAt: number;
  updatedAt: number;
}
