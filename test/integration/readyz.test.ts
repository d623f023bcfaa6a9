import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildApp } from '../../src/app.js';
import { JWT_SECRET, openTestDatabase } from '../helpers/world.js';

test('/readyz answers 503 once the database is gone, while /healthz still answers 200', async () => {
  const handle = await openTestDatabase();
  const app = await buildApp({
    config: { jwtSecret: JWT_SECRET, accessTokenTtl: 3600, refreshTokenTtl: 86_400, trustProxy: false },
    db: handle.db,
  });
  try {
    assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    await handle.close();
    const down = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(down.statusCode, 503);
    assert.deepEqual(down.json(), { detail: 'The database is not reachable.', code: 'service_unavailable' });
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  } finally {
    await app.close();
  }
});
