/** What every bench module shares: the checkout's root, the progress log, and running a command to completion. */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout the bench runs in (commands run there; results are written under it). */
export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Progress goes to stderr, so stdout carries only the report. */
export function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** Runs a command in the checkout and returns its stdout; throws when it fails. */
export function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const result = spawnSync(command, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status})`);
  return result.stdout.toString();
}
