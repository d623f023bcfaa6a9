import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { World } from '../helpers/world.js';

let world: World;
before(async () => {
  world = await World.start();
});
after(() => world.close());

test('a request travels from sender to recipient and back as a connection', async () => {
  const alice = await world.user();
  const bob = await world.user();
  const sent = await world.act(alice.token, bob.id, 'request');
  assert.equal(sent.status, 200);
  assert.deepEqual(sent.body, { connection_status: 'sent_connection_request' });

  const received = await world.get('/api/v2/user/connection/requests/', bob.token);
  assert.equal(received.status, 200);
  assert.equal(received.body.count, 1);
  assert.equal(received.body.results[0].from_user.id, alice.id);
  assert.equal(received.body.results[0].to_user.id, bob.id);

  const accepted = await world.act(bob.token, alice.id, 'accept');
  assert.deepEqual(accepted.body, { connection_status: 'connected' });
  const connections = await world.get(`/api/v2/user/${alice.id}/connections/`, bob.token);
  assert.deepEqual(
    connections.body.results.map((u: { id: number }) => u.id),
    [bob.id],
  );
});
