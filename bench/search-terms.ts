/**
 * `npm run bench:search`: each term of the two search cases asked once, one after another, of the
 * search's own statement (`searchMembers`, as member 2 sees it, limit 20) on DATABASE_URL's seeded
 * community; prints the median, p99 and slowest terms of each. The load cases report CPU per request;
 * this finds the terms whose plan goes wrong (round five: two terms of a thousand took 1.4–1.6 s at
 * 1m). `--terms N` (default 1000).
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { kyselyOver } from '../src/db/database.js';
import { searchMembers } from '../src/db/repositories/people.js';
import { prefixTerm, substringTerm } from './cases/people.js';

const { values } = parseArgs({ options: { terms: { type: 'string', default: '1000' } } });
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  process.stderr.write('bench:search: DATABASE_URL is required (a database the bench seeded)\n');
  process.exit(2);
}
const count = Number(values.terms);
if (!Number.isInteger(count) || count < 1) {
  process.stderr.write(`bench:search: --terms is a positive integer, not ${values.terms}\n`);
  process.exit(2);
}
const db = kyselyOver(new pg.Pool({ connectionString: databaseUrl, max: 1 }));

const rows: string[] = [];
for (const [name, term] of [
  ['search-prefix', prefixTerm],
  ['search-substring', substringTerm],
] as const) {
  const times: Array<{ ms: number; term: string }> = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await searchMembers(
      db,
      2,
      { terms: [{ field: 'both', term: term(i) }], ordering: null, exclude: [], limit: 20, offset: 0 },
      'friendship',
    );
    times.push({ ms: performance.now() - started, term: term(i) });
  }
  times.sort((a, b) => a.ms - b.ms);
  const at = (q: number) => times[Math.floor(q * (times.length - 1))]!.ms.toFixed(1);
  const slowest = times
    .slice(-3)
    .reverse()
    .map((t) => `${t.term} ${t.ms.toFixed(0)}`);
  rows.push(`| ${name} | ${times.length} | ${at(0.5)} | ${at(0.99)} | ${at(1)} | ${slowest.join(', ')} |`);
}
await db.destroy();
process.stdout.write(
  [
    '| case | terms | median ms | p99 ms | max ms | slowest (term ms) |',
    '|---|---:|---:|---:|---:|---|',
    ...rows,
    '',
  ].join('\n'),
);
