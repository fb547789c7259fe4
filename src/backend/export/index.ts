// The export layer: dataset formats out, labels in. Works on plain data; see from-store.ts for the store.
export { exportDataset } from './export.js';
export { importFromExport, importLabels, type ImportDependencies } from './import.js';
export { matchImportedLabels, type CollectionImage, type LabelMatch, type MatchResult } from './match.js';
export { assignClassFolders, sanitizeClassFolderName, sanitizeFileName } from './sanitize.js';
export { stratifiedSplit } from './split.js';
export * from './types.js';
