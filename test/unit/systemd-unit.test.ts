import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { tempDirs } from '../helpers/temp.js';

const run = promisify(execFile);
const ANALYZE = '/usr/bin/systemd-analyze';
const UNIT = 'examples/systemd/kith.service';
const newDir = tempDirs('kith-unit-');

/** `systemd-analyze verify` of `text` as kith.service: its complaints (stderr), empty when none. */
async function verify(text: string): Promise<string> {
  // verify checks that ExecStart's program exists: on a machine without /usr/bin/node, the node running the test.
  const file = join(newDir(), 'kith.service');
  writeFileSync(file, existsSync('/usr/bin/node') ? text : text.replace('/usr/bin/node', process.execPath));
  try {
    const { stderr } = await run(ANALYZE, ['verify', file]);
    return stderr.trim();
  } catch (error) {
    return String((error as { stderr?: string }).stderr ?? error).trim() || 'failed';
  }
}

test('examples/systemd/kith.service passes systemd-analyze verify', {
  skip: !existsSync(ANALYZE) && 'no systemd-analyze',
}, async () => {
  const unit = readFileSync(UNIT, 'utf8');
  assert.equal(await verify(unit), '');
  // The check can fail: a misspelt key is reported.
  assert.match(await verify(unit.replace('Restart=on-failure', 'Restart=on-failure\nRestartt=always')), /Unknown key/);
});
