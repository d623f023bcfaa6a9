import { openDatabase } from './src/db/database.js';
import { searchMembers, suggestMembers } from './src/db/repositories/people.js';
const h = await openDatabase({ databaseUrl: process.env.DATABASE_URL, poolSize: 1 });
async function time(label: string, f: () => Promise<unknown>, n = 20) {
  await f();
  const t = [];
  for (let i = 0; i < n; i++) { const s = performance.now(); await f(); t.push(performance.now() - s); }
  t.sort((a, b) => a - b);
  console.log(label, 'median', t[n >> 1]!.toFixed(1), 'max', t[n - 1]!.toFixed(1));
}
for (const id of [2, 3, 50, 1000, 123456, 300001]) {
  const r = await suggestMembers(h.db, id, { limit: 20, offset: 0 }, 'friendship');
  console.log(id, 'total', r.total, r.items.slice(0, 3).map((u) => u.id));
  await time(`suggest ${id}`, () => suggestMembers(h.db, id, { limit: 20, offset: 0 }, 'friendship'));
}
for (const term of ['member_1234', '34567', 'mem', 'me', 'member 99']) {
  const f = () => searchMembers(h.db, 5, { terms: [{ field: 'both', term }], ordering: null, exclude: [], limit: 20, offset: 0 }, 'friendship');
  const r = await f();
  console.log(term, 'total', r.total, r.items.slice(0, 3).map((u) => u.username));
  await time(`search ${term}`, f);
}
await h.close();
