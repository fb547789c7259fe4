import type { Db } from './database.js';
import type { AdaptMethod } from '../../shared/domain/adaptation.js';
import type { RunParams, RunScope } from '../../shared/domain/runs.js';
import { InvalidRequestError } from './errors.js';
import type { Run, RunItem, RunItemState, RunStatus } from '../../shared/domain/runs.js';

/** Who holds a run: the process instance that queued or executes it, and when it last said so. */
export interface RunLease {
  /** Random per executor, so a restarted process with a reused pid is not mistaken for the owner. */
  instance: string;
  host: string;
  pid: number;
  /** Last renewal, ms since the epoch. */
  heartbeatAt: number;
}

export interface NewRun {
  collectionId: number;
  classSetId: number;
  modelId: number;
  method: AdaptMethod;
  params: RunParams;
  scope: RunScope;
  /**
   * Adds the (adapted) run as a layer on this run. An 'uncertain' scope layers on the run it selects
   * from unless told otherwise; a layer's layer goes on the base. Zero-shot runs are never layers.
   */
  baseRunId?: number | null;
}

/** One queued image, with what the executor needs to find the file. */
export interface WorkItem {
  imageId: number;
  relPath: string;
  root: string;
  /** The collection follows links out of its folder (Collection.followLinks). */
  followLinks: boolean;
  /** SHA-1 of the file when indexed. */
  contentHash: string | null;
  attempts: number;
}

interface RunRow {
  id: number;
  collection_id: number;
  class_set_id: number;
  model_id: number;
  method: AdaptMethod;
  params_json: string;
  scope_json: string;
  base_run_id: number | null;
  name: string | null;
  prompt_version: number | null;
  active_ms: number | null;
  running_since: number | null;
  status: RunStatus;
  total: number;
  done_count: number;
  failed_count: number;
  device: string | null;
  error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  lease_instance: string | null;
  lease_host: string | null;
  lease_pid: number | null;
  lease_heartbeat: number | null;
}

const toRun = (r: RunRow): Run => ({
  id: r.id,
  collectionId: r.collection_id,
  classSetId: r.class_set_id,
  modelId: r.model_id,
  method: r.method,
  params: JSON.parse(r.params_json) as RunParams,
  scope: JSON.parse(r.scope_json) as Record<string, unknown>,
  baseRunId: r.base_run_id,
  name: r.name,
  promptVersion: r.prompt_version,
  // A running run's current stretch counts too.
  activeMs:
    r.active_ms === null ? null : r.active_ms + (r.running_since === null ? 0 : Date.now() - r.running_since),
  status: r.status,
  total: r.total,
  done: r.done_count,
  failed: r.failed_count,
  device: r.device,
  error: r.error,
  createdAt: r.created_at,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
});

const finalStatuses: ReadonlySet<RunStatus> = new Set(['cancelled', 'done', 'failed']);

export function runsRepository(db: Db) {
  const byId = db.prepare<[number], RunRow>('SELECT * FROM runs WHERE id = ?');
  const all = db.prepare<[], RunRow>('SELECT * FROM runs ORDER BY id DESC');
  const ofCollection = db.prepare<[number], RunRow>(
    'SELECT * FROM runs WHERE collection_id = ? ORDER BY id DESC',
  );
  const withStatus = db.prepare<[string], RunRow>('SELECT * FROM runs WHERE status = ? ORDER BY id');
  const insertRun = db.prepare(
    `INSERT INTO runs (collection_id, class_set_id, model_id, method, params_json, scope_json, base_run_id,
       prompt_version, active_ms, status, created_at)
     SELECT @collectionId, @classSetId, @modelId, @method, @params, @scope, @baseRunId, prompt_version, 0,
       'queued', @now FROM class_sets WHERE id = @classSetId`,
  );
  const enqueueCollection = db.prepare<[number, number]>(
    `INSERT INTO run_items (run_id, image_id, state)
     SELECT ?, id, 'pending' FROM images WHERE collection_id = ? AND status = 'ok' ORDER BY id`,
  );
  const enqueueImage = db.prepare<[number, number, number]>(
    `INSERT OR IGNORE INTO run_items (run_id, image_id, state)
     SELECT ?, id, 'pending' FROM images WHERE id = ? AND collection_id = ? AND status = 'ok'`,
  );
  const enqueueUncertain = db.prepare<[number, number, number, number]>(
    `INSERT INTO run_items (run_id, image_id, state)
     SELECT ?, p.image_id, 'pending' FROM predictions p JOIN images i ON i.id = p.image_id
     WHERE p.run_id = ? AND p.zero_shot_entropy > ? AND i.collection_id = ? AND i.status = 'ok'
     ORDER BY p.image_id`,
  );
  const setTotal = db.prepare<[number, number]>('UPDATE runs SET total = ? WHERE id = ?');
  // Active time adds up the stretches spent 'running'. A run whose process died ends its stretch at
  // its last result (the time until the restart was downtime).
  const setStatus = db.prepare(
    `UPDATE runs SET status = @status,
       error = @error,
       started_at = CASE WHEN @status = 'running' THEN COALESCE(started_at, @now) ELSE started_at END,
       active_ms = CASE WHEN @status = 'running' OR running_since IS NULL THEN active_ms
         WHEN @interrupted THEN active_ms + MAX(0, COALESCE(
           (SELECT MAX(created_at) FROM predictions WHERE run_id = @id), running_since) - running_since)
         ELSE active_ms + MAX(0, @now - running_since) END,
       running_since = CASE WHEN @status = 'running' THEN COALESCE(running_since, @now) ELSE NULL END,
       finished_at = CASE WHEN @final THEN @now ELSE NULL END
     WHERE id = @id`,
  );
  const rename = db.prepare<[string | null, number]>('UPDATE runs SET name = ? WHERE id = ?');
  const setDevice = db.prepare<[string, number]>('UPDATE runs SET device = ? WHERE id = ?');
  const pending = db.prepare<
    [number, number, number],
    Omit<WorkItem, 'followLinks'> & { followLinks: 0 | 1 }
  >(
    `SELECT ri.image_id AS imageId, i.rel_path AS relPath, c.root AS root, c.follow_links AS followLinks,
            i.content_hash AS contentHash, ri.attempts AS attempts
     FROM run_items ri JOIN images i ON i.id = ri.image_id JOIN collections c ON c.id = i.collection_id
     WHERE ri.run_id = ? AND ri.state = 'pending' AND ri.image_id > ?
     ORDER BY ri.image_id LIMIT ?`,
  );
  const beginAttempt = db.prepare<[number, number]>(
    'UPDATE run_items SET attempts = attempts + 1 WHERE run_id = ? AND image_id = ?',
  );
  const itemsPage = db.prepare<
    { runId: number; state: string | null; limit: number; offset: number },
    RunItem
  >(
    `SELECT ri.image_id AS imageId, i.rel_path AS relPath, ri.state, ri.error, ri.attempts
     FROM run_items ri JOIN images i ON i.id = ri.image_id
     WHERE ri.run_id = @runId AND (@state IS NULL OR ri.state = @state)
     ORDER BY ri.image_id LIMIT @limit OFFSET @offset`,
  );
  const retryFailed = db.prepare<[number]>(
    "UPDATE run_items SET state = 'pending', error = NULL, attempts = 0 WHERE run_id = ? AND state = 'failed'",
  );
  const resetFailedCount = db.prepare<[number]>('UPDATE runs SET failed_count = 0 WHERE id = ?');
  const remove = db.prepare<[number]>('DELETE FROM runs WHERE id = ?');
  const setLease = db.prepare<{ id: number; instance: string; host: string; pid: number; now: number }>(
    `UPDATE runs SET lease_instance = @instance, lease_host = @host, lease_pid = @pid, lease_heartbeat = @now
     WHERE id = @id`,
  );
  const renewLease = db.prepare<[number, number, string]>(
    'UPDATE runs SET lease_heartbeat = ? WHERE id = ? AND lease_instance = ?',
  );
  const releaseLease = db.prepare<[number, string]>(
    `UPDATE runs SET lease_instance = NULL, lease_host = NULL, lease_pid = NULL, lease_heartbeat = NULL
     WHERE id = ? AND lease_instance = ?`,
  );
  const pendingCount = db.prepare<[number], { n: number }>(
    "SELECT count(*) AS n FROM run_items WHERE run_id = ? AND state = 'pending'",
  );

  const leaseOf = (row: RunRow): RunLease | null =>
    row.lease_instance === null
      ? null
      : {
          instance: row.lease_instance,
          host: row.lease_host ?? '',
          pid: row.lease_pid ?? 0,
          heartbeatAt: row.lease_heartbeat ?? 0,
        };
  /** Takes the lease when it is free, ours, or `mayTakeOver` says so; else returns the holder's. */
  const takeLease = db.transaction(
    (
      id: number,
      owner: Omit<RunLease, 'heartbeatAt'>,
      now: number,
      mayTakeOver: (held: RunLease) => boolean,
    ): RunLease | null => {
      const row = byId.get(id);
      if (!row) throw new Error(`run ${id} does not exist`);
      const held = leaseOf(row);
      if (held && held.instance !== owner.instance && !mayTakeOver(held)) return held;
      setLease.run({ id, ...owner, now });
      return null;
    },
  );
  const layers = db.prepare<[number], RunRow>('SELECT * FROM runs WHERE base_run_id = ? ORDER BY id');

  const require = (id: number): Run => {
    const row = byId.get(id);
    if (!row) throw new Error(`run ${id} does not exist`);
    return toRun(row);
  };

  /** The run a new run is a layer on, checked: same collection and class set, never a layer itself. */
  const layerBase = (spec: NewRun): number | null => {
    if (spec.method === 'zeroshot') return null;
    const requested =
      spec.baseRunId !== undefined
        ? spec.baseRunId
        : spec.scope.kind === 'uncertain'
          ? spec.scope.baseRunId
          : null;
    if (requested === null) return null;
    const base = require(requested);
    if (base.collectionId !== spec.collectionId || base.classSetId !== spec.classSetId) {
      throw new InvalidRequestError(
        `run ${base.id} covers another collection or class set; a run cannot be layered on it`,
      );
    }
    return base.baseRunId ?? base.id;
  };

  return {
    /** Creates a queued run and its work items (one per image in scope), in one transaction. */
    create(spec: NewRun): Run {
      return db.transaction(() => {
        const { scope } = spec;
        const storedScope =
          scope.kind === 'images' ? { kind: 'images', imageCount: scope.imageIds.length } : scope;
        const inserted = insertRun.run({
          collectionId: spec.collectionId,
          classSetId: spec.classSetId,
          modelId: spec.modelId,
          method: spec.method,
          params: JSON.stringify(spec.params),
          scope: JSON.stringify(storedScope),
          baseRunId: layerBase(spec),
          now: Date.now(),
        });
        if (inserted.changes !== 1) throw new Error(`class set ${spec.classSetId} does not exist`);
        const id = Number(inserted.lastInsertRowid);
        let total: number;
        if (scope.kind === 'collection') {
          total = enqueueCollection.run(id, spec.collectionId).changes;
        } else if (scope.kind === 'images') {
          total = 0;
          for (const imageId of scope.imageIds)
            total += enqueueImage.run(id, imageId, spec.collectionId).changes;
        } else {
          const base = require(scope.baseRunId);
          if (base.collectionId !== spec.collectionId || base.classSetId !== spec.classSetId) {
            throw new InvalidRequestError(
              `run ${base.id} covers another collection or class set; it cannot select images`,
            );
          }
          total = enqueueUncertain.run(
            id,
            scope.baseRunId,
            scope.minZeroShotEntropy,
            spec.collectionId,
          ).changes;
        }
        setTotal.run(total, id);
        return require(id);
      })();
    },
    get(id: number): Run | undefined {
      const row = byId.get(id);
      return row && toRun(row);
    },
    require,
    list(collectionId?: number): Run[] {
      return (collectionId === undefined ? all.all() : ofCollection.all(collectionId)).map(toRun);
    },
    withStatus(status: RunStatus): Run[] {
      return withStatus.all(status).map(toRun);
    },
    /** `interrupted`: the run's process died while running it (its active time ends at its last result). */
    setStatus(id: number, status: RunStatus, extra: { error?: string; interrupted?: boolean } = {}): void {
      setStatus.run({
        id,
        status,
        error: extra.error ?? null,
        final: finalStatuses.has(status) ? 1 : 0,
        interrupted: extra.interrupted ? 1 : 0,
        now: Date.now(),
      });
    },
    /** Gives the run a name (null or blank: none). */
    rename(id: number, name: string | null): Run {
      require(id);
      rename.run(name?.trim() || null, id);
      return require(id);
    },
    /** The runs layered on a run, oldest first. */
    layersOf(baseRunId: number): Run[] {
      return layers.all(baseRunId).map(toRun);
    },
    setDevice(id: number, device: string): void {
      setDevice.run(device, id);
    },
    /** Pending items in image-id order after afterImageId. */
    nextPending(runId: number, afterImageId: number, limit: number): WorkItem[] {
      return pending
        .all(runId, afterImageId, limit)
        .map((item) => ({ ...item, followLinks: item.followLinks === 1 }));
    },
    /** Counts an attempt before processing starts, so an image that kills the process is noticed. */
    beginAttempt(runId: number, imageId: number): void {
      beginAttempt.run(runId, imageId);
    },
    items(runId: number, options: { state?: RunItemState; offset?: number; limit?: number } = {}): RunItem[] {
      return itemsPage.all({
        runId,
        state: options.state ?? null,
        limit: options.limit ?? 100,
        offset: options.offset ?? 0,
      });
    },
    /** Puts failed items back in the queue. */
    retryFailed(runId: number): number {
      return db.transaction(() => {
        const n = retryFailed.run(runId).changes;
        resetFailedCount.run(runId);
        return n;
      })();
    },
    remove(id: number): boolean {
      return remove.run(id).changes > 0;
    },
    /** Items still to process. */
    pendingCount(runId: number): number {
      return pendingCount.get(runId)!.n;
    },
    /** The run's lease, or null when no process holds it. */
    lease(runId: number): RunLease | null {
      const row = byId.get(runId);
      return row ? leaseOf(row) : null;
    },
    /**
     * Takes the run's lease for `owner` in one write transaction (BEGIN IMMEDIATE, so two processes
     * cannot both see it free). Returns null when taken, or the lease that another owner holds and
     * `mayTakeOver` (called with it) declined to take over.
     */
    takeLease(
      runId: number,
      owner: Omit<RunLease, 'heartbeatAt'>,
      now: number,
      mayTakeOver: (held: RunLease) => boolean,
    ): RunLease | null {
      return takeLease.immediate(runId, owner, now, mayTakeOver);
    },
    /** Renews the heartbeat; false when `instance` no longer holds the lease (it was taken over). */
    renewLease(runId: number, instance: string, now: number): boolean {
      return renewLease.run(now, runId, instance).changes === 1;
    },
    /** Whether `instance` holds the lease now. */
    holdsLease(runId: number, instance: string): boolean {
      return byId.get(runId)?.lease_instance === instance;
    },
    /** Gives the lease up, if `instance` holds it. */
    releaseLease(runId: number, instance: string): void {
      releaseLease.run(runId, instance);
    },
  };
}

export type RunsRepository = ReturnType<typeof runsRepository>;
