// Installed models as the API and the store know them.

export interface ModelRecord {
  id: number;
  name: string;
  dir: string;
  /** A summary of the model's config (architecture, sizes); free-form JSON. */
  config: Record<string, unknown>;
  createdAt: number;
}
