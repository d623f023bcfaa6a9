import { linkSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Another live process holds the embedded database. Its message is the one line both the server
 * and the CLI print, so they catch this class and print nothing else.
 */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `the embedded database in ${dataDir} is in use by process ${pid}; stop it, or use the HTTP API / DATABASE_URL`,
    );
    this.name = 'DataDirInUseError';
  }
}

export interface DataDirLock {
  /** Removes the lock file if it still names this process; safe to call twice. */
  release(): void;
}

// Paths locked by this process: a second open from the same process would corrupt the files just
// as a second process would, and the pid in the file cannot tell the two apart.
const held = new Set<string>();

/**
 * Takes the exclusive lock on an embedded data directory (`<dataDir>/kith.lock`, holding our pid)
 * for as long as the database is open, or throws DataDirInUseError naming the live holder.
 *
 * PGlite has no lock of its own, and two processes writing one directory corrupt it. A lock left by
 * a process that died without releasing it (SIGKILL, a crash, a signal with no handler) names a pid
 * that no longer runs and is taken over. Accepted risk: if that pid has since been reused by an
 * unrelated live process, the lock looks held until that process ends or the file is removed by hand.
 * A lock naming our own pid but not held by us is a previous life of this pid (a restarted
 * container) and is taken over too.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const path = join(dataDir, 'kith.lock');
  if (held.has(path)) throw new DataDirInUseError(dataDir, process.pid);

  // The file appears with its content already written (link of a finished file), so a reader never
  // sees an empty lock from a process that is between creating and writing it.
  const draft = `${path}.${process.pid}`;
  writeFileSync(draft, `${process.pid}\n`);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(draft, path);
        break;
      } catch (error) {
        if (!isCode(error, 'EEXIST') || attempt >= 5) throw error;
      }
      takeOverIfStale(dataDir, path);
    }
  } finally {
    unlinkSync(draft);
  }
  held.add(path);

  const release = () => {
    if (!held.delete(path)) return;
    process.off('exit', release);
    try {
      if (readPid(path) === process.pid) unlinkSync(path);
    } catch {
      // Already gone: nothing to release.
    }
  };
  // Covers process.exit() and a normal end; a process killed by a signal leaves a stale lock.
  process.on('exit', release);
  return { release };
}

/** Throws if the lock at `path` names a live process; otherwise removes it so the caller can retry. */
function takeOverIfStale(dataDir: string, path: string) {
  let pid: number;
  let inode: number;
  try {
    inode = statSync(path).ino;
    pid = readPid(path);
  } catch (error) {
    if (isCode(error, 'ENOENT')) return; // released meanwhile: retry
    throw error;
  }
  if (pid !== process.pid && isAlive(pid)) throw new DataDirInUseError(dataDir, pid);

  // Move the stale file aside rather than unlinking it by name: if another starter took it over
  // between our read and now, the file at `path` is its live lock, which we must not delete.
  const aside = `${path}.stale.${process.pid}`;
  try {
    renameSync(path, aside);
  } catch (error) {
    if (isCode(error, 'ENOENT')) return;
    throw error;
  }
  if (statSync(aside).ino !== inode) {
    // We moved someone's fresh lock: put it back (if the slot is still free) before retrying.
    try {
      linkSync(aside, path);
    } catch {
      // A third starter linked its own lock in this instant: two would then believe they hold it.
      // That needs three processes starting at once on a stale lock; accepted.
    }
  }
  unlinkSync(aside);
}

function readPid(path: string): number {
  const pid = Number(readFileSync(path, 'utf8').trim());
  // Garbage (a hand-edited file) names no process: treated as stale.
  return Number.isSafeInteger(pid) && pid > 0 ? pid : 0;
}

function isAlive(pid: number): boolean {
  if (pid === 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user; it is alive.
    return !isCode(error, 'ESRCH');
  }
}

function isCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
