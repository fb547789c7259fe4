// The schema, as an ordered list of steps. A database records how many steps it has applied in
// PRAGMA user_version; opening it applies the rest, each in its own transaction. Never edit a step
// that has shipped: add a new one.

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

const baseSchema = `
CREATE TABLE collections (
  id INTEGER PRIMARY KEY,
  root TEXT NOT NULL UNIQUE,           -- real path of the folder
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL,         -- all times are ms since the epoch
  last_scan_at INTEGER
);

CREATE TABLE images (
  id INTEGER PRIMARY KEY,
  collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  rel_path TEXT NOT NULL,              -- '/'-separated, relative to the collection root
  size INTEGER NOT NULL,
  mtime_ms INTEGER NOT NULL,
  content_hash TEXT,                   -- sha1 hex of the file bytes
  width INTEGER,
  height INTEGER,
  status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'missing')),
  error TEXT,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  UNIQUE (collection_id, rel_path)
);
CREATE INDEX images_by_hash ON images (collection_id, content_hash);
CREATE INDEX images_by_last_seen ON images (collection_id, last_seen);

CREATE TABLE class_sets (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  template TEXT NOT NULL,              -- e.g. 'a photo of a {}.'
  context_init TEXT NOT NULL,          -- e.g. 'a photo of a'
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE classes (
  class_set_id INTEGER NOT NULL REFERENCES class_sets(id) ON DELETE CASCADE,
  ordinal INTEGER NOT NULL,            -- position in the class set = index in probability vectors
  name TEXT NOT NULL,
  prompt TEXT,                         -- overrides the template for this class
  PRIMARY KEY (class_set_id, ordinal),
  UNIQUE (class_set_id, name)
);

CREATE TABLE models (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  dir TEXT NOT NULL UNIQUE,
  config_json TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  class_set_id INTEGER NOT NULL REFERENCES class_sets(id),
  model_id INTEGER NOT NULL REFERENCES models(id),
  method TEXT NOT NULL,
  params_json TEXT NOT NULL,
  scope_json TEXT NOT NULL,
  status TEXT NOT NULL
    CHECK (status IN ('queued', 'running', 'paused', 'cancelled', 'done', 'failed')),
  total INTEGER NOT NULL DEFAULT 0,
  done_count INTEGER NOT NULL DEFAULT 0,
  failed_count INTEGER NOT NULL DEFAULT 0,
  device TEXT,
  error TEXT,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER
);
CREATE INDEX runs_by_collection ON runs (collection_id, id);
CREATE INDEX runs_by_status ON runs (status);

-- The persistent work queue: one row per image a run has to process.
CREATE TABLE run_items (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
  error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, image_id)
) WITHOUT ROWID;
CREATE INDEX run_items_by_state ON run_items (run_id, state, image_id);
CREATE INDEX run_items_by_image ON run_items (image_id);

CREATE TABLE predictions (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  label INTEGER NOT NULL,
  probs BLOB NOT NULL,
  zero_shot_probs BLOB NOT NULL,
  entropy REAL NOT NULL,
  zero_shot_entropy REAL NOT NULL,
  adapted INTEGER NOT NULL,
  losses_json TEXT,
  timings_json TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (run_id, image_id)
);
CREATE INDEX predictions_by_image ON predictions (image_id);

CREATE TABLE adapted_prompts (
  run_id INTEGER NOT NULL,
  image_id INTEGER NOT NULL,
  ctx BLOB NOT NULL,
  ctx_shape_json TEXT NOT NULL,
  nearest_tokens_json TEXT,
  PRIMARY KEY (run_id, image_id),
  FOREIGN KEY (run_id, image_id) REFERENCES predictions(run_id, image_id) ON DELETE CASCADE
);

CREATE TABLE views (
  run_id INTEGER NOT NULL,
  image_id INTEGER NOT NULL,
  view_index INTEGER NOT NULL,
  theta BLOB NOT NULL,                 -- 2x3 affine, 6 float32
  entropy REAL NOT NULL,
  selected INTEGER NOT NULL,
  PRIMARY KEY (run_id, image_id, view_index),
  FOREIGN KEY (run_id, image_id) REFERENCES predictions(run_id, image_id) ON DELETE CASCADE
);

-- The expert's current decision per image and class set.
CREATE TABLE labels (
  image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  class_set_id INTEGER NOT NULL REFERENCES class_sets(id) ON DELETE CASCADE,
  decision TEXT NOT NULL CHECK (decision IN ('label', 'reject', 'skip')),
  class_ordinal INTEGER,               -- set when decision = 'label'
  rejected_ordinal INTEGER,            -- the predicted class the expert rejected
  source TEXT NOT NULL CHECK (source IN ('human', 'accepted', 'imported')),
  run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (image_id, class_set_id),
  FOREIGN KEY (class_set_id, class_ordinal) REFERENCES classes(class_set_id, ordinal),
  CHECK ((decision = 'label') = (class_ordinal IS NOT NULL))
);

-- Undo/redo: an action groups the per-image changes one command made (a bulk assign is one action).
-- The cursor is the newest action with undone = 0; undone actions after it form the redo stack.
CREATE TABLE label_actions (
  id INTEGER PRIMARY KEY,
  collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  class_set_id INTEGER NOT NULL REFERENCES class_sets(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  undone INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE INDEX label_actions_by_scope ON label_actions (collection_id, class_set_id, id);

CREATE TABLE label_history (
  id INTEGER PRIMARY KEY,
  action_id INTEGER NOT NULL REFERENCES label_actions(id) ON DELETE CASCADE,
  image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  before_json TEXT,                    -- the label row before the change, NULL = none
  after_json TEXT                      -- the label row after the change, NULL = removed
);
CREATE INDEX label_history_by_action ON label_history (action_id);
CREATE INDEX label_history_by_image ON label_history (image_id, id);

CREATE TABLE exports (
  id INTEGER PRIMARY KEY,
  collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
  format TEXT NOT NULL,
  out_dir TEXT NOT NULL,
  manifest_json TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
`;

// The grid filters and sorts by the top probability and the zero-shot label; computing them from the
// BLOBs per query is a full scan, so they become indexed columns, filled for existing rows by the SQL
// functions f32_max / f32_argmax that the store registers on every connection.
const gridColumns = `
ALTER TABLE predictions ADD COLUMN confidence REAL;
ALTER TABLE predictions ADD COLUMN zero_shot_label INTEGER;
UPDATE predictions SET confidence = f32_max(probs), zero_shot_label = f32_argmax(zero_shot_probs);
CREATE INDEX predictions_by_entropy ON predictions (run_id, entropy);
CREATE INDEX predictions_by_confidence ON predictions (run_id, confidence);
CREATE INDEX predictions_by_label ON predictions (run_id, label, entropy);
CREATE INDEX labels_by_class_set ON labels (class_set_id, decision, class_ordinal);
`;

// Early builds stored the zero-shot method as 'zero-shot'; the engine, CLI and API call it 'zeroshot'.
const zeroShotMethodName = `UPDATE runs SET method = 'zeroshot' WHERE method = 'zero-shot';`;

// Grid queries scan predictions by the 100,000; rows that carry two probability BLOBs and JSON spread
// over many pages (4 KB per BLOB at 1000 classes), which made those scans slow. The detail that only
// the single-image view needs moves to prediction_details; predictions keeps the narrow grid columns.
const predictionDetailsApart = `
CREATE TABLE prediction_details (
  run_id INTEGER NOT NULL,
  image_id INTEGER NOT NULL,
  probs BLOB NOT NULL,
  zero_shot_probs BLOB NOT NULL,
  losses_json TEXT,
  timings_json TEXT NOT NULL,
  PRIMARY KEY (run_id, image_id),
  FOREIGN KEY (run_id, image_id) REFERENCES predictions(run_id, image_id) ON DELETE CASCADE
);
INSERT INTO prediction_details (run_id, image_id, probs, zero_shot_probs, losses_json, timings_json)
  SELECT run_id, image_id, probs, zero_shot_probs, losses_json, timings_json FROM predictions;
ALTER TABLE predictions DROP COLUMN probs;
ALTER TABLE predictions DROP COLUMN zero_shot_probs;
ALTER TABLE predictions DROP COLUMN losses_json;
ALTER TABLE predictions DROP COLUMN timings_json;
`;

// Each image's unit features from a model's vision tower (the centre-cropped original), written with
// the image's first result under that model. With a class set's text features they give its zero-shot
// scores without the vision tower, so changed prompts re-score a collection at once. Features depend
// on the file's content: the trigger drops them whenever a rescan records a different content hash
// (in the same statement, so no path that changes an image can leave stale features behind).
const imageFeatures = `
CREATE TABLE image_features (
  model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
  image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  features BLOB NOT NULL,              -- float32 [P], unit length
  PRIMARY KEY (model_id, image_id)
);
CREATE INDEX image_features_by_image ON image_features (image_id);
CREATE TRIGGER image_features_stale AFTER UPDATE OF content_hash ON images
  WHEN OLD.content_hash IS NOT NEW.content_hash
BEGIN
  DELETE FROM image_features WHERE image_id = NEW.id;
END;
`;

// One owner per run: the process that has a run in its queue or executes it holds a lease (its
// instance id, host and pid) and renews the heartbeat while it does; others take the run over only
// when the lease is stale (see src/backend/jobs/leases.ts).
const runLeases = `
ALTER TABLE runs ADD COLUMN lease_instance TEXT;
ALTER TABLE runs ADD COLUMN lease_host TEXT;
ALTER TABLE runs ADD COLUMN lease_pid INTEGER;
ALTER TABLE runs ADD COLUMN lease_heartbeat INTEGER;
`;

// A collection's result per image combines runs: an adapted run over part of a collection is a layer
// on the run it was started from (base_run_id; the newest layer's result per image wins). Runs also
// say what they are: a name the user gives, the class set's prompt version they scored with, and
// their processing time without pauses and stops (active_ms, counted from running_since). Existing
// 'uncertain' runs become layers of the run they selected from; their prompt version and active time
// are unknown (NULL), not guessed. Results of files whose content changed are dropped (trigger).
const runLayers = `
ALTER TABLE runs ADD COLUMN base_run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL;
ALTER TABLE runs ADD COLUMN name TEXT;
ALTER TABLE runs ADD COLUMN prompt_version INTEGER;
ALTER TABLE runs ADD COLUMN active_ms INTEGER;
ALTER TABLE runs ADD COLUMN running_since INTEGER;
UPDATE runs SET base_run_id = json_extract(scope_json, '$.baseRunId')
  WHERE method != 'zeroshot' AND json_extract(scope_json, '$.kind') = 'uncertain'
    AND json_extract(scope_json, '$.baseRunId') IN (SELECT id FROM runs);
CREATE INDEX runs_by_base ON runs (base_run_id);
ALTER TABLE class_sets ADD COLUMN prompt_version INTEGER NOT NULL DEFAULT 1;
-- A changed file never keeps a result of its old content: a rescan that records a new content hash
-- drops the image's results and its finished work items, and the runs' counts follow (pending items
-- stay, so a run still going processes the new content).
CREATE TRIGGER results_stale AFTER UPDATE OF content_hash ON images
  WHEN OLD.content_hash IS NOT NEW.content_hash
BEGIN
  UPDATE runs SET total = total - 1, done_count = done_count - 1
    WHERE id IN (SELECT run_id FROM run_items WHERE image_id = NEW.id AND state = 'done');
  UPDATE runs SET total = total - 1, failed_count = failed_count - 1
    WHERE id IN (SELECT run_id FROM run_items WHERE image_id = NEW.id AND state = 'failed');
  DELETE FROM run_items WHERE image_id = NEW.id AND state != 'pending';
  DELETE FROM predictions WHERE image_id = NEW.id;
END;
`;

// Prompts learned from the expert's labels (CoOp, Self-TPT), versioned per class set. A record keeps
// what it came from by value (the labels' image ids and classes, the settings, the class names), so
// deleting those labels later does not delete or change it; deleting the class set or model does.
const learnedPrompts = `
CREATE TABLE learned_prompts (
  id INTEGER PRIMARY KEY,
  class_set_id INTEGER NOT NULL REFERENCES class_sets(id) ON DELETE CASCADE,
  model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
  version INTEGER NOT NULL,            -- 1, 2, ... within the class set
  method TEXT NOT NULL CHECK (method IN ('coop', 'selftpt')),
  template TEXT NOT NULL,
  class_names_json TEXT NOT NULL,      -- the classes the context was learned (or adapted) for, in order
  ctx BLOB NOT NULL,                   -- float32 [n_ctx, D]: the context that classifies
  n_ctx INTEGER NOT NULL,
  source_ctx BLOB,                     -- Self-TPT: stage 1's context, where stage 2 starts for new names
  head BLOB,                           -- Self-TPT: projection head w1, b1, w2, b2 end to end
  head_sizes_json TEXT,                -- [P, hidden, out]
  settings_json TEXT NOT NULL,
  labels_json TEXT NOT NULL,           -- [[image_id, class_ordinal, held_out], ...]
  accuracy_json TEXT NOT NULL,         -- train/validation accuracy before (hand-written) and after
  history_json TEXT NOT NULL,          -- per-epoch losses and accuracies
  nearest_tokens_json TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (class_set_id, version)
);
CREATE INDEX learned_prompts_by_model ON learned_prompts (model_id, method, created_at);
`;

/** Whether a collection's scans, runs, thumbnails and exports follow links that leave its folder. */
const collectionFollowLinks = `
ALTER TABLE collections ADD COLUMN follow_links INTEGER NOT NULL DEFAULT 0;
`;

// What the last scan found (counts, skipped entries, unreadable files), so that the Library can
// show it after a reload or a restart, not only in the session that scanned.
const collectionLastScan = `
ALTER TABLE collections ADD COLUMN last_scan_json TEXT;
`;

// Labels read from a file (ground truth made elsewhere) are kept apart from the expert's decisions,
// so that neither overwrites the other: an image with only an imported label is still to review, and
// accepting a prediction leaves the imported label for evaluation. Existing imported rows move over,
// and so do imported labels an applied decision had replaced (restored from its history); the label
// history then forgets them (undo/redo concern decisions only), and import actions that are left
// with no change are dropped. The labels table is rebuilt so that its CHECK admits decisions only.
const importedLabelsApart = `
CREATE TABLE imported_labels (
  image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  class_set_id INTEGER NOT NULL REFERENCES class_sets(id) ON DELETE CASCADE,
  class_ordinal INTEGER NOT NULL,
  imported_at INTEGER NOT NULL,        -- ms since the epoch
  PRIMARY KEY (image_id, class_set_id),
  FOREIGN KEY (class_set_id, class_ordinal) REFERENCES classes(class_set_id, ordinal)
);
CREATE INDEX imported_labels_by_class_set ON imported_labels (class_set_id, class_ordinal);
INSERT INTO imported_labels (image_id, class_set_id, class_ordinal, imported_at)
  SELECT image_id, class_set_id, class_ordinal, created_at FROM labels
  WHERE source = 'imported' AND decision = 'label';
-- An imported label a decision had replaced comes back from the history (the newest one first).
INSERT OR IGNORE INTO imported_labels (image_id, class_set_id, class_ordinal, imported_at)
  SELECT h.image_id, a.class_set_id, json_extract(h.before_json, '$.classOrdinal'),
         json_extract(h.before_json, '$.createdAt')
  FROM label_history h JOIN label_actions a ON a.id = h.action_id
  WHERE a.undone = 0 AND json_extract(h.before_json, '$.source') = 'imported'
    AND json_extract(h.before_json, '$.decision') = 'label'
    AND EXISTS (SELECT 1 FROM classes c WHERE c.class_set_id = a.class_set_id
                AND c.ordinal = json_extract(h.before_json, '$.classOrdinal'))
  ORDER BY h.id DESC;

UPDATE label_history SET before_json = NULL WHERE json_extract(before_json, '$.source') = 'imported';
UPDATE label_history SET after_json = NULL WHERE json_extract(after_json, '$.source') = 'imported';
DELETE FROM label_history WHERE before_json IS NULL AND after_json IS NULL;
DELETE FROM label_actions WHERE NOT EXISTS (SELECT 1 FROM label_history h WHERE h.action_id = label_actions.id);

CREATE TABLE decisions (
  image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  class_set_id INTEGER NOT NULL REFERENCES class_sets(id) ON DELETE CASCADE,
  decision TEXT NOT NULL CHECK (decision IN ('label', 'reject', 'skip')),
  class_ordinal INTEGER,
  rejected_ordinal INTEGER,
  source TEXT NOT NULL CHECK (source IN ('human', 'accepted')),
  run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (image_id, class_set_id),
  FOREIGN KEY (class_set_id, class_ordinal) REFERENCES classes(class_set_id, ordinal),
  CHECK ((decision = 'label') = (class_ordinal IS NOT NULL))
);
INSERT INTO decisions SELECT image_id, class_set_id, decision, class_ordinal, rejected_ordinal, source, run_id, created_at
  FROM labels WHERE source != 'imported';
DROP TABLE labels;
ALTER TABLE decisions RENAME TO labels;
CREATE INDEX labels_by_class_set ON labels (class_set_id, decision, class_ordinal);
`;

// Self-TPT stage 2's adapted contexts, cached: one per (learned prompt, model, classes). The classes
// are keyed by value (names in order, per-class prompts, template, context init: everything stage 2
// reads), so an edit that changes any of them misses and one that changes none hits, whichever class
// set holds them. Deleting the learned prompt or the model deletes its rows.
const selfTptAdaptations = `
CREATE TABLE selftpt_adaptations (
  learned_prompt_id INTEGER NOT NULL REFERENCES learned_prompts(id) ON DELETE CASCADE,
  model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
  class_key TEXT NOT NULL,             -- JSON: classes in order (name, prompt), template, context init
  ctx BLOB NOT NULL,                   -- float32 [n_ctx, D]: the adapted context
  losses_json TEXT NOT NULL,           -- CPT's loss before each step
  seconds REAL NOT NULL,               -- how long stage 2 took
  created_at INTEGER NOT NULL,
  PRIMARY KEY (learned_prompt_id, model_id, class_key)
) WITHOUT ROWID;
`;

export const migrations: readonly Migration[] = [
  { version: 1, description: 'base schema', sql: baseSchema },
  { version: 2, description: 'grid query columns and indexes', sql: gridColumns },
  { version: 3, description: "method 'zero-shot' renamed 'zeroshot'", sql: zeroShotMethodName },
  { version: 4, description: 'prediction details apart from the grid columns', sql: predictionDetailsApart },
  { version: 5, description: 'cached image features per model', sql: imageFeatures },
  { version: 6, description: 'run leases: one owner per run', sql: runLeases },
  {
    version: 7,
    description: 'run layers, names, prompt versions, active time; stale results dropped',
    sql: runLayers,
  },
  { version: 8, description: 'learned prompts', sql: learnedPrompts },
  {
    version: 9,
    description: 'per-collection choice to follow links out of the folder',
    sql: collectionFollowLinks,
  },
  { version: 10, description: "each collection's last scan summary", sql: collectionLastScan },
  { version: 11, description: "imported labels apart from the expert's decisions", sql: importedLabelsApart },
  { version: 12, description: "Self-TPT stage 2's adapted contexts, cached", sql: selfTptAdaptations },
];
