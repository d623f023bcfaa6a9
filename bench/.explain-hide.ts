// One-off: EXPLAIN of the received list's deep page with hidden senders, on PostgreSQL.
import { CompiledQuery, sql } from 'kysely';
import { requestPageStatement } from '/work/wt/hide/src/db/pages/request-pages.js';
import { seedCommunity } from '/work/wt/hide/src/db/seed.js';
import { toggleHide } from '/work/wt/hide/src/services/connections.js';
import { openTestDatabase } from '/work/wt/hide/test/helpers/world.js';

const handle = await openTestDatabase();
const db = handle.db;
try {
  const seed = await seedCommunity(db, { users: 30000, celebrityRequests: 20000, seed: 7 });
  const star = seed.celebrity.id;
  const { rows: senders } = await sql<{ id: number }>`
    SELECT from_user_id AS id FROM connection_requests WHERE to_user_id = ${star} AND rejected IS NULL ORDER BY id`.execute(db);
  const hidden = senders.filter((_, i) => i % 20 === 0);
  const t0 = performance.now();
  for (const s of hidden) await toggleHide(db, star, s.id);
  const perHide = (performance.now() - t0) / hidden.length;
  await sql`VACUUM ANALYZE connection_requests`.execute(db);
  const { rows: count } = await sql<{ n: number }>`SELECT requests_received_count AS n FROM users WHERE id = ${star}`.execute(db);
  console.log(JSON.stringify({ pending: seed.celebrity.pending, hidden: hidden.length, countNow: count[0]!.n, msPerHide: perHide.toFixed(2) }));
  for (const [offset, after] of [[15000, undefined], [0, undefined]] as const) {
    const { sql: text, slots } = requestPageStatement({ list: 'pending', limit: 20, offset, after });
    const params: Record<string, unknown> = { viewer: star, limit: 20, offset, micros: null, afterId: null };
    const { rows } = await db.executeQuery<{ 'QUERY PLAN': string }>(
      CompiledQuery.raw(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${text}`, slots.map((s) => params[s])),
    );
    console.log(`--- offset ${offset}`);
    console.log(rows.map((r) => r['QUERY PLAN']).filter((l) => /Index|Buffers|Execution|Heap Fetches/.test(l)).join('\n'));
  }
} finally {
  await handle.close();
}
