import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// `npm start` and `kith` run the built dist/ as it is: building on every start took 14-26 s.
// They refuse a dist/ that is missing or older than src/ rather than run yesterday's code unseen.

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The most recently modified file ending in `suffix` under `dir`, or undefined when there is none. */
function newest(dir, suffix) {
  let found;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    const candidate = entry.isDirectory()
      ? newest(path, suffix)
      : entry.name.endsWith(suffix)
        ? { path, mtimeMs: statSync(path).mtimeMs }
        : undefined;
    if (candidate && (!found || candidate.mtimeMs > found.mtimeMs)) found = candidate;
  }
  return found;
}

/**
 * Why dist/ under `root` cannot be run, or undefined when it is at least as new as every file of src/
 * (an installed package without src/ only needs dist/).
 */
export function distProblem(root = ROOT) {
  const built = newest(join(root, 'dist'), '.js');
  if (!built) return 'dist/ is missing';
  const source = newest(join(root, 'src'), '.ts');
  if (source && source.mtimeMs > built.mtimeMs) {
    return `dist/ is older than src/ (${relative(root, source.path)} changed since the last build)`;
  }
  return undefined;
}

/** Exits with one line when dist/ is missing or stale. */
export function requireFreshDist() {
  const problem = distProblem();
  if (problem) {
    process.stderr.write(`kith: ${problem}; run npm run build\n`);
    process.exit(1);
  }
}
