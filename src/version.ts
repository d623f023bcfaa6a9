import { readFileSync } from 'node:fs';

/**
 * kith's version, read once from package.json: one level up from both src/version.ts and
 * dist/version.js, so the source and the build agree with the package.
 */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
