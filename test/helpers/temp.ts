import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** A new empty directory in the system's temporary directory, named `prefix` and a random suffix. */
export const tempDir = (prefix: string) => mkdtempSync(join(tmpdir(), prefix));

/** A maker of temporary directories named `prefix`…, every one of them removed after the file's tests. */
export function tempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = tempDir(prefix);
    dirs.push(dir);
    return dir;
  };
}
