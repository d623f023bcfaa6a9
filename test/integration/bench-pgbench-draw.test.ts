import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { rotationIds, rotationOf } from '../../bench/dataset.js';
import { drawLines } from '../../bench/pgbench.js';

// The bench's pgbench floor must read the members case 2 reads: pgbench's own arithmetic, run for real.
test('pgbench draws only the rotation’s members, at 300k and at 1m', {
  skip: process.env.DATABASE_URL ? false : 'pgbench needs a PostgreSQL server',
}, async () => {
  const url = new URL(process.env.DATABASE_URL!);
  const table = `bench_draw_${process.pid}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  const dir = mkdtempSync(join(tmpdir(), 'kith-draw-'));
  try {
    for (const members of [300_000, 1_000_000]) {
      const rotation = rotationOf(members, 1000);
      await client.query(`CREATE TABLE ${table} (k int, uid int)`);
      const file = join(dir, 'draw.sql');
      writeFileSync(file, `${[...drawLines(rotation), `INSERT INTO ${table} VALUES (:k, :uid);`].join('\n')}\n`);
      execFileSync(
        'pgbench',
        [
          '-n',
          '-t',
          '3000',
          '-f',
          file,
          '-h',
          url.hostname,
          '-p',
          url.port || '5432',
          '-U',
          url.username || 'postgres',
        ],
        { stdio: 'pipe', env: { ...process.env, PGDATABASE: decodeURIComponent(url.pathname.slice(1)) } },
      );
      const { rows } = await client.query<{ k: number; uid: number }>(`SELECT k, uid FROM ${table}`);
      await client.query(`DROP TABLE ${table}`);
      const ids = rotationIds(rotation);
      assert.equal(rows.length, 3000);
      for (const { k, uid } of rows) assert.equal(uid, ids[k], `draw ${k} at ${members}`);
      // 3,000 uniform draws of 1,000 members reach about 950 of them (a narrower range would not).
      assert.ok(new Set(rows.map((r) => r.uid)).size > 900);
    }
  } finally {
    await client.query(`DROP TABLE IF EXISTS ${table}`);
    await client.end();
    rmSync(dir, { recursive: true, force: true });
  }
});
