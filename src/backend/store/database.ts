// Opening a database: pragmas, SQL helper functions, and the migration runner.
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { blobToFloat32, maxWithIndex } from './float32.js';
import { migrations as allMigrations, type Migration } from './migrations.js';

export type Db = Database.Database;

export interface OpenDatabaseOptions {
  /** Apply migrations up to this version only (tests use it to build an older schema). */
  targetVersion?: number;
  migrations?: readonly Migration[];
  /** better-sqlite3's compiled binding to load (the Electron app has one built for Electron's ABI). */
  nativeBinding?: string;
}

export function openDatabase(path: string, options: OpenDatabaseOptions = {}): Db {
  // SQLite would open a device or a pipe and write its journal beside it (/dev/null-journal as root).
  const existing = path === ':memory:' ? null : statSync(path, { throwIfNoEntry: false });
  if (existing && !existing.isFile()) {
    throw new Error(`cannot open database ${path}: it is not a regular file (a database is a file)`);
  }
  const db = new Database(path, { nativeBinding: options.nativeBinding });
  try {
    // WAL lets the UI read and review while a run writes; NORMAL sync is durable across app crashes
    // (only an OS crash can lose the last commits) and much faster than FULL.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 10000');
    registerFunctions(db);
    migrate(db, options.migrations ?? allMigrations, options.targetVersion);
    // Query plans over 100k-row tables depend on table statistics (sampling them with analysis_limit
    // gave estimates bad enough to pick 10x slower grid plans); refresh those that are stale.
    db.pragma('optimize = 0x10002');
    return db;
  } catch (error) {
    db.close();
    throw new Error(`cannot open database ${path}: ${(error as Error).message}`, { cause: error });
  }
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

export function migrate(db: Db, migrations: readonly Migration[], targetVersion?: number): void {
  const latest = migrations.length === 0 ? 0 : migrations[migrations.length - 1].version;
  const target = targetVersion ?? latest;
  migrations.forEach((step, i) => {
    if (step.version !== i + 1) throw new Error(`migration ${i + 1} is numbered ${step.version}`);
  });
  const current = schemaVersion(db);
  if (current > latest) {
    throw new Error(`schema version ${current} is newer than this app knows (${latest})`);
  }
  for (const step of migrations) {
    if (step.version <= current || step.version > target) continue;
    db.transaction(() => {
      db.exec(step.sql);
      // user_version lives in the database header and is rolled back with the transaction.
      db.pragma(`user_version = ${step.version}`);
    })();
  }
}

function registerFunctions(db: Db): void {
  const deterministic = { deterministic: true };
  db.function('f32_max', deterministic, (blob: unknown) =>
    blob instanceof Uint8Array ? maxWithIndex(blobToFloat32(blob)).value : null,
  );
  db.function('f32_argmax', deterministic, (blob: unknown) =>
    blob instanceof Uint8Array ? maxWithIndex(blobToFloat32(blob)).index : null,
  );
}
