import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type { WebSocket } from 'ws';
import { Hub } from '../../src/realtime/hub.js';

/** Just enough of a ws socket to watch what the hub does with it. */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  sent: string[] = [];
  terminated = false;
  pings = 0;
  send(text: string) {
    this.sent.push(text);
  }
  terminate() {
    this.terminated = true;
    this.readyState = 3;
    this.emit('close');
  }
  ping() {
    this.pings += 1;
  }
  close() {
    this.terminate();
  }
}

const asWs = (s: FakeSocket) => s as unknown as WebSocket;

test('a socket whose buffer is full is dropped; the others still get the message', () => {
  const hub = new Hub({ maxBufferedBytes: 100, pingIntervalMs: 60_000 });
  const slow = new FakeSocket();
  const fast = new FakeSocket();
  hub.add(7, asWs(slow));
  hub.add(7, asWs(fast));
  slow.bufferedAmount = 95;
  hub.send(7, 'x'.repeat(10));
  assert.equal(slow.terminated, true);
  assert.deepEqual(slow.sent, []);
  assert.deepEqual(fast.sent, ['x'.repeat(10)]);
  assert.equal(hub.size, 1);
  hub.close();
});

test('messages go only to the sockets of their user', () => {
  const hub = new Hub({ maxBufferedBytes: 1000, pingIntervalMs: 60_000 });
  const mine = new FakeSocket();
  const theirs = new FakeSocket();
  hub.add(1, asWs(mine));
  hub.add(2, asWs(theirs));
  hub.send(1, 'hello');
  assert.deepEqual(mine.sent, ['hello']);
  assert.deepEqual(theirs.sent, []);
  theirs.emit('close');
  assert.equal(hub.has(2), false);
  hub.close();
});

test('a socket that does not answer a ping is dropped at the next round', async () => {
  const hub = new Hub({ maxBufferedBytes: 1000, pingIntervalMs: 20 });
  const dead = new FakeSocket();
  const alive = new FakeSocket();
  alive.ping = () => {
    alive.pings += 1;
    setImmediate(() => alive.emit('pong'));
  };
  hub.add(1, asWs(dead));
  hub.add(1, asWs(alive));
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(dead.terminated, true);
  assert.equal(alive.terminated, false);
  assert.ok(alive.pings >= 2);
  hub.close();
});
