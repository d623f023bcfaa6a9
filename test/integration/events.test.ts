import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { interactionMessage } from '../../src/realtime/notifications.js';
import { SocketClient } from '../helpers/socket.js';
import { World } from '../helpers/world.js';

let world: World;
before(async () => {
  world = await World.start();
});
after(() => world.close());

async function eventsBetween(a: number, b: number) {
  return world.db
    .selectFrom('events')
    .select(['id', 'type', 'from_user_id', 'to_user_id', 'data', 'created'])
    .where((eb) =>
      eb.or([
        eb.and([eb('from_user_id', '=', a), eb('to_user_id', '=', b)]),
        eb.and([eb('from_user_id', '=', b), eb('to_user_id', '=', a)]),
      ]),
    )
    .orderBy('id')
    .execute();
}

async function notificationsOf(token: string) {
  const page = await world.get('/api/v2/notification/', token);
  assert.equal(page.status, 200);
  return page.body.results.flatMap((g: any) => g.aggregated);
}

describe('the event log', () => {
  test('each graph action writes exactly its event, with sender as from_user and recipient as to_user', async () => {
    const alice = await world.user();
    const bob = await world.user();
    const expect = async (types: Array<[string, number, number]>) => {
      const rows = await eventsBetween(alice.id, bob.id);
      assert.deepEqual(
        rows.map((r) => [r.type, r.from_user_id, r.to_user_id]),
        types,
      );
    };
    await world.act(alice.token, bob.id, 'request');
    await expect([['connection_request.created', alice.id, bob.id]]);
    await world.act(bob.token, alice.id, 'reject');
    await world.act(bob.token, alice.id, 'reject'); // no change, no event
    await world.act(bob.token, alice.id, 'cancel_reject');
    await world.act(bob.token, alice.id, 'accept');
    await world.act(bob.token, alice.id, 'remove');
    await world.act(alice.token, bob.id, 'request');
    await world.act(alice.token, bob.id, 'cancel_request');
    await expect([
      ['connection_request.created', alice.id, bob.id],
      ['connection_request.rejected', alice.id, bob.id],
      ['connection_request.restored', alice.id, bob.id],
      ['connection.created', alice.id, bob.id],
      ['connection.deleted', bob.id, alice.id],
      ['connection_request.created', alice.id, bob.id],
      ['connection_request.cancelled', alice.id, bob.id],
    ]);
    const [first] = await eventsBetween(alice.id, bob.id);
    const data = first?.data as any;
    assert.equal(data.from_user.id, alice.id);
    assert.equal(data.to_user.id, bob.id);
    assert.equal(data.from_user.connection_requests_sent_counter, 1);
    assert.equal(data.to_user.connection_requests_received_counter, 1);
  });

  test('a refused action writes no event', async () => {
    const alice = await world.user();
    const bob = await world.user();
    assert.equal((await world.act(alice.token, bob.id, 'accept')).status, 400);
    assert.equal((await world.act(alice.token, bob.id, 'remove')).status, 200);
    assert.deepEqual(await eventsBetween(alice.id, bob.id), []);
  });
});

describe('notifications', () => {
  test('request, accept, cancel and remove notify the other side; a rejection is silent', async () => {
    const alice = await world.user();
    const bob = await world.user();
    await world.act(alice.token, bob.id, 'request');
    assert.deepEqual((await world.get('/api/v2/notification/unseen/count/', bob.token)).body, { count: 1 });
    let bobs = await notificationsOf(bob.token);
    assert.equal(bobs.length, 1);
    assert.equal(bobs[0].type, 'connection_request');
    assert.equal(bobs[0].request_user.id, alice.id);
    assert.equal(bobs[0].is_new, true);
    assert.match(bobs[0].active_at, /Z$/);

    await world.act(bob.token, alice.id, 'reject');
    assert.deepEqual(await notificationsOf(alice.token), []);
    await world.act(bob.token, alice.id, 'accept');
    const alices = await notificationsOf(alice.token);
    assert.deepEqual(
      alices.map((n: any) => [n.type, n.accept_user.id]),
      [['connection_accept', bob.id]],
    );
    // accepted: the request notification stays as history
    bobs = await notificationsOf(bob.token);
    assert.deepEqual(
      bobs.map((n: any) => n.type),
      ['connection_request'],
    );

    await world.act(alice.token, bob.id, 'remove');
    bobs = await notificationsOf(bob.token);
    assert.deepEqual(
      bobs.map((n: any) => [n.type, n.remove_user?.id ?? n.request_user?.id]),
      [
        ['connection_remove', alice.id],
        ['connection_request', alice.id],
      ],
    );
  });

  test('a cancelled request removes its notification and its unseen count', async () => {
    const alice = await world.user();
    const bob = await world.user();
    await world.act(alice.token, bob.id, 'request');
    await world.act(alice.token, bob.id, 'cancel_request');
    assert.deepEqual((await world.get('/api/v2/notification/unseen/count/', bob.token)).body, { count: 1 });
    const bobs = await notificationsOf(bob.token);
    assert.deepEqual(
      bobs.map((n: any) => [n.type, n.cancel_request_user.id]),
      [['connection_cancel_request', alice.id]],
    );
  });

  test('listing marks the listed page read: is_new as before in that answer, false afterwards', async () => {
    const bob = await world.user();
    const senders = [];
    for (let i = 0; i < 23; i++) senders.push(await world.user());
    for (const s of senders) await world.act(s.token, bob.id, 'request');
    const unseen = async () => (await world.get('/api/v2/notification/unseen/count/', bob.token)).body.count;
    assert.equal(await unseen(), 23);

    // The first page (20, newest first) still shows every one as new, and is read from now on.
    const first = await world.get('/api/v2/notification/', bob.token);
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(
      first.body.results.map((g: any) => [g.is_new, g.aggregated[0].is_new, g.aggregated[0].request_user.id]),
      senders
        .slice(3)
        .reverse()
        .map((s) => [true, true, s.id]),
    );
    assert.equal(await unseen(), 3);
    assert.equal((await world.get('/api/v2/user/me/', bob.token)).body.unseen_interactions_counter, 3);
    const again = await world.get('/api/v2/notification/', bob.token);
    assert.deepEqual(
      again.body.results.map((g: any) => [g.is_new, g.aggregated[0].is_new]),
      senders.slice(3).map(() => [false, false]),
    );

    // The older page, by its next link: new in that answer, read afterwards.
    const older = await world.get(first.body.next, bob.token);
    assert.deepEqual(
      older.body.results.map((g: any) => [g.is_new, g.aggregated[0].request_user.id]),
      senders
        .slice(0, 3)
        .reverse()
        .map((s) => [true, s.id]),
    );
    assert.equal(await unseen(), 0);
  });

  test('read by group or item sid; missing sids is a 400', async () => {
    const bob = await world.user();
    const senders = [await world.user(), await world.user(), await world.user()];
    for (const s of senders) await world.act(s.token, bob.id, 'request');
    const groups = await world.db
      .selectFrom('notifications')
      .select('id')
      .where('user_id', '=', bob.id)
      .orderBy('id', 'desc')
      .execute();
    const read = await world.post('/api/v2/notification/read/', bob.token, {
      sids: [`g${groups[0]!.id}`, `n${groups[1]!.id}`],
    });
    assert.equal(read.status, 204);
    assert.equal((await world.get('/api/v2/notification/unseen/count/', bob.token)).body.count, 1);
    const me = await world.get('/api/v2/user/me/', bob.token);
    assert.equal(me.body.unseen_interactions_counter, 1);
    const after = await world.get('/api/v2/notification/', bob.token);
    assert.deepEqual(
      after.body.results.map((g: any) => g.is_new),
      [false, false, true],
    );
    const missing = await world.post('/api/v2/notification/read/', bob.token, {});
    assert.equal(missing.status, 400);
    assert.equal(missing.body.code, 'invalid');
  });

  test('next_id and previous_id walk the list without gaps or repeats', async () => {
    const bob = await world.user();
    for (let i = 0; i < 45; i++) {
      const s = await world.user();
      await world.act(s.token, bob.id, 'request');
    }
    const seen: string[] = [];
    let url: string | null = '/api/v2/notification/';
    const pages: any[] = [];
    while (url) {
      const page: any = await world.get(url, bob.token);
      pages.push(page.body);
      seen.push(...page.body.results.map((g: any) => g.sid));
      url = page.body.next;
    }
    assert.deepEqual(
      pages.map((p) => p.results.length),
      [20, 20, 5],
    );
    assert.equal(new Set(seen).size, 45);
    const ids = seen.map((s) => Number(s.slice(1)));
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => b - a),
    );
    assert.equal(pages[0].previous, null);
    const back = await world.get(pages[2].previous, bob.token);
    assert.deepEqual(
      back.body.results.map((g: any) => g.sid),
      pages[1].results.map((g: any) => g.sid),
    );
    // Listed once already: read now.
    assert.ok(back.body.results.every((g: any) => g.is_new === false));
  });
});

describe('realtime', () => {
  test('a request reaches every open socket of the recipient, with the unseen count', async () => {
    const alice = await world.user();
    const bob = await world.user();
    const s1 = await SocketClient.open(world.baseUrl, bob.token);
    const s2 = await SocketClient.open(world.baseUrl, bob.token);
    assert.equal(s1.socket.protocol, `__${bob.token}`);
    await world.act(alice.token, bob.id, 'request');
    for (const s of [s1, s2]) {
      const [message] = await s.waitFor(1);
      assert.equal(message.type, 'interaction');
      assert.equal(message.data.activity_type, 'connection_request');
      assert.equal(message.data.request_user.id, alice.id);
      assert.equal(message.data.count_interactions, 1);
      assert.equal(message.data.connection.from_user.id, alice.id);
      assert.equal(message.data.connection.to_user.id, bob.id);
    }
    s1.close();
    s2.close();
  });

  test('the heartbeat is echoed, a rejection pushes nothing, an accept reaches the sender', async () => {
    const alice = await world.user();
    const bob = await world.user();
    const aliceSocket = await SocketClient.open(world.baseUrl, alice.token);
    aliceSocket.socket.send('--1a61c1de89b75ddfbb684b8d224ee3ae--');
    assert.deepEqual(await aliceSocket.waitFor(1), ['--1a61c1de89b75ddfbb684b8d224ee3ae--']);
    await world.act(alice.token, bob.id, 'request');
    await world.act(bob.token, alice.id, 'reject');
    await world.act(bob.token, alice.id, 'accept');
    const messages = await aliceSocket.waitFor(2);
    assert.equal(messages.length, 2);
    assert.equal(messages[1].data.activity_type, 'connection_accept');
    assert.equal(messages[1].data.accept_user.id, bob.id);
    aliceSocket.close();
  });

  test('withdrawn requests and removed connections reach the other side; rejections and restorations push nothing', async () => {
    const alice = await world.user();
    const bob = await world.user();
    const bobSocket = await SocketClient.open(world.baseUrl, bob.token);
    const aliceSocket = await SocketClient.open(world.baseUrl, alice.token);
    await world.act(alice.token, bob.id, 'request'); // bob: connection_request
    // A message is built from its notification when the NOTIFY arrives; a request withdrawn before
    // then is not pushed (see the next test). Wait for it, so the withdrawal cannot overtake it.
    await bobSocket.waitFor(1);
    await world.act(alice.token, bob.id, 'cancel_request'); // bob: connection_cancel_request
    await world.act(alice.token, bob.id, 'request'); // bob: connection_request
    await world.act(bob.token, alice.id, 'reject'); // nothing
    await world.act(bob.token, alice.id, 'cancel_reject'); // nothing
    await world.act(bob.token, alice.id, 'accept'); // alice: connection_accept
    await world.act(bob.token, alice.id, 'remove'); // alice: connection_remove
    const bobs = await bobSocket.waitFor(3);
    const alices = await aliceSocket.waitFor(2);
    await new Promise((r) => setTimeout(r, 300)); // nothing else arrives
    assert.deepEqual(
      bobs.map((m) => m.data.activity_type),
      ['connection_request', 'connection_cancel_request', 'connection_request'],
    );
    assert.equal(bobs[1].data.cancel_request_user.id, alice.id);
    assert.equal(bobs[1].data.count_interactions, 1, 'the withdrawn request no longer counts');
    assert.deepEqual(
      alices.map((m) => m.data.activity_type),
      ['connection_accept', 'connection_remove'],
    );
    assert.equal(alices[1].data.remove_user.id, bob.id);
    assert.equal(bobSocket.messages.length, 3);
    assert.equal(aliceSocket.messages.length, 2);
    bobSocket.close();
    aliceSocket.close();
  });

  test('a request withdrawn before its message is built pushes nothing; its withdrawal still does', async () => {
    const alice = await world.user();
    const bob = await world.user();
    await world.act(alice.token, bob.id, 'request');
    const [request] = await world.db
      .selectFrom('notifications')
      .select('id')
      .where('user_id', '=', bob.id)
      .where('type', '=', 'connection_request')
      .execute();
    assert.ok(request, 'the request notified bob');
    const built = JSON.parse((await interactionMessage(world.db, bob.id, request.id)) ?? 'null');
    assert.equal(built?.data.activity_type, 'connection_request');
    await world.act(alice.token, bob.id, 'cancel_request');
    assert.equal(await interactionMessage(world.db, bob.id, request.id), undefined);
    const [withdrawal] = await world.db
      .selectFrom('notifications')
      .select('id')
      .where('user_id', '=', bob.id)
      .where('type', '=', 'connection_cancel_request')
      .execute();
    assert.ok(withdrawal, 'the withdrawal notified bob');
    const pushed = JSON.parse((await interactionMessage(world.db, bob.id, withdrawal.id)) ?? 'null');
    assert.equal(pushed?.data.activity_type, 'connection_cancel_request');
    assert.equal(pushed?.data.count_interactions, 1, 'the withdrawn request no longer counts');
  });

  test('count_interactions follows a listing, which marks the listed notifications read', async () => {
    const [alice, carol, bob] = [await world.user(), await world.user(), await world.user()];
    const socket = await SocketClient.open(world.baseUrl, bob.token);
    await world.act(alice.token, bob.id, 'request');
    assert.equal((await socket.waitFor(1))[0].data.count_interactions, 1);
    assert.equal((await world.get('/api/v2/notification/', bob.token)).status, 200);
    await world.act(carol.token, bob.id, 'request');
    const messages = await socket.waitFor(2);
    assert.equal(messages[1].data.request_user.id, carol.id);
    assert.equal(messages[1].data.count_interactions, 1);
    socket.close();
  });

  test('a bad token is refused at the handshake', async () => {
    await assert.rejects(SocketClient.open(world.baseUrl, 'not-a-token'), /handshake refused: 401/);
  });
});
