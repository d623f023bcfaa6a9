import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DataDirInUseError, lockDataDir } from '../../src/db/data-dir-lock.js';
import { tempDirs } from '../helpers/temp.js';

const tempDir = tempDirs('kith-lock-');

/** The pid of a process that has already ended. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

test('the lock file holds our pid while held and is gone after release', () => {
  const dir = tempDir();
  const lock = lockDataDir(dir);
  assert.equal(readFileSync(join(dir, 'kith.lock'), 'utf8').trim(), String(process.pid));
  lock.release();
  assert.deepEqual(readdirSync(dir), []);
  lock.release(); // twice is harmless
});

test('a lock held by another live process is refused, naming that process', () => {
  const dir = tempDir();
  // Our parent (the test runner) is alive and is not us.
  writeFileSync(join(dir, 'kith.lock'), `${process.ppid}\n`);
  assert.throws(
    () => lockDataDir(dir),
    (error: unknown) =>
      error instanceof DataDirInUseError &&
      error.pid === process.ppid &&
      error.message ===
        `the embedded database in ${dir} is in use by process ${process.ppid}; stop it, or use the HTTP API / DATABASE_URL`,
  );
  // Refusing leaves the holder's file as it was, and no draft behind.
  assert.equal(readFileSync(join(dir, 'kith.lock'), 'utf8'), `${process.ppid}\n`);
  assert.deepEqual(readdirSync(dir), ['kith.lock']);
});

test('a second open from the same process is refused too', () => {
  const dir = tempDir();
  const lock = lockDataDir(dir);
  assert.throws(() => lockDataDir(dir), DataDirInUseError);
  lock.release();
  lockDataDir(dir).release();
});

test('a lock left by a dead process, by a previous life of our pid, or holding garbage is taken over', () => {
  for (const stale of [String(deadPid()), String(process.pid), 'not a pid', '']) {
    const dir = tempDir();
    writeFileSync(join(dir, 'kith.lock'), stale);
    const lock = lockDataDir(dir);
    assert.equal(readFileSync(join(dir, 'kith.lock'), 'utf8').trim(), String(process.pid), `stale "${stale}"`);
    assert.deepEqual(readdirSync(dir), ['kith.lock']);
    lock.release();
  }
});

test('release leaves alone a lock file that no longer names us', () => {
  const dir = tempDir();
  const lock = lockDataDir(dir);
  writeFileSync(join(dir, 'kith.lock'), `${process.ppid}\n`);
  lock.release();
  assert.ok(existsSync(join(dir, 'kith.lock')));
});
