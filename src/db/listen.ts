import pg from 'pg';
import { backoffMs } from '../backoff.js';
import type { DatabaseHandle } from './database.js';

export type Unlisten = () => Promise<void>;

/** Reconnect waits: 0.5 s, 1 s, 2 s, … at most 10 s, so a process notices the database's return within 10 s. */
const RECONNECT_FIRST_MS = 500;
const RECONNECT_CAP_MS = 10_000;
/**
 * A LISTEN connection only reads, so a cut network (no reset ever arrives) would leave it waiting for
 * good; a cheap query this often shows it is still alive.
 */
const PING_EVERY_MS = 10_000;
const PING_TIMEOUT_MS = 5000;

/**
 * Subscribes to a PostgreSQL NOTIFY channel. On a server, a dedicated connection (outside the pool)
 * that reconnects after errors, with capped back-off, for as long as the subscription lasts; it never
 * throws, even when the database is down at the start (`onError` hears each failure, and each call is
 * followed by exactly one reconnect attempt: callers count reconnects there). On the embedded
 * database, PGlite's own listen. Notifications sent while the connection is down are not replayed:
 * `onListening` hears each (re)subscription, after which every notification arrives.
 */
export async function listen(
  handle: DatabaseHandle,
  databaseUrl: string | undefined,
  channel: string,
  onPayload: (payload: string) => void,
  onError: (error: unknown) => void = () => undefined,
  onListening: () => void = () => undefined,
): Promise<Unlisten> {
  const subscription = await subscribe(handle, databaseUrl, [channel], (_, payload) => onPayload(payload), {
    onError,
    onListening,
  });
  return subscription.stop;
}

/** Several channels on one connection, and a NOTIFY sent on that same connection. */
export interface Subscription {
  stop: Unlisten;
  /**
   * Sends a notification from the subscription's own connection (false when it is down). PostgreSQL
   * delivers notifications in the order their transactions committed, so when one sent here to a
   * channel of its own comes back, every notification committed before it was sent has arrived.
   */
  notify(channel: string, payload: string): Promise<boolean>;
}

export interface SubscribeHandlers {
  /** Each failure of the connection; each is followed by one reconnect attempt. */
  onError?: (error: unknown) => void;
  /** Each (re)subscription: from then on, every notification arrives. */
  onListening?: () => void;
}

/** `listen` for several channels on one connection (see `listen`), with `Subscription.notify`. */
export async function subscribe(
  handle: DatabaseHandle,
  databaseUrl: string | undefined,
  channels: readonly string[],
  onMessage: (channel: string, payload: string) => void,
  { onError = () => undefined, onListening = () => undefined }: SubscribeHandlers = {},
): Promise<Subscription> {
  if (handle.pglite) {
    const pglite = handle.pglite;
    const stops = await Promise.all(
      channels.map((channel) => pglite.listen(channel, (payload) => onMessage(channel, payload))),
    );
    onListening();
    return {
      stop: async () => {
        if (!pglite.closed) await Promise.all(stops.map((stop) => stop()));
      },
      notify: async (channel, payload) => {
        if (pglite.closed) return false;
        try {
          await pglite.query('SELECT pg_notify($1, $2)', [channel, payload]);
          return true;
        } catch (error) {
          onError(error);
          return false;
        }
      },
    };
  }
  if (!handle.clientConfig && !databaseUrl) throw new Error('listen needs the database URL');
  const clientConfig: pg.ClientConfig = {
    ...(handle.clientConfig ?? { connectionString: databaseUrl }),
    application_name: 'kith-listen',
  };

  let client: pg.Client | undefined;
  let connecting: pg.Client | undefined;
  let stopped = false;
  let failures = 0;
  let retry: NodeJS.Timeout | undefined;
  let pinging = false;
  // One statement at a time on the connection (node-postgres deprecates overlapping ones): the
  // ping and the notifications sent from here wait for each other.
  let tail: Promise<unknown> = Promise.resolve();
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const next = tail.then(work, work);
    tail = next.catch(() => undefined);
    return next;
  };

  const drop = (c: pg.Client) => {
    c.end().catch(() => undefined);
    // end() waits for the server to close its side, which a cut network never does.
    (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  };

  // Called for each failure of the current (or connecting) client; a client already replaced is ignored.
  const lost = (c: pg.Client, error: unknown) => {
    if (c !== client && c !== connecting) return;
    if (c === client) client = undefined;
    if (c === connecting) connecting = undefined;
    drop(c);
    if (stopped) return;
    onError(error);
    retry = setTimeout(
      () => {
        retry = undefined;
        void connect();
      },
      backoffMs(failures++, RECONNECT_FIRST_MS, RECONNECT_CAP_MS),
    );
    retry.unref();
  };

  const connect = async () => {
    const c = new pg.Client(clientConfig);
    connecting = c;
    c.on('notification', (message) => {
      if (channels.includes(message.channel) && message.payload !== undefined)
        onMessage(message.channel, message.payload);
    });
    c.on('error', (error) => lost(c, error));
    try {
      await c.connect();
      for (const channel of channels) await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    } catch (error) {
      lost(c, error);
      return;
    }
    if (stopped) return drop(c);
    if (connecting !== c) return; // failed meanwhile (and already handled)
    connecting = undefined;
    client = c;
    failures = 0;
    onListening();
  };

  const ping = setInterval(() => {
    const c = client;
    if (!c || pinging) return;
    pinging = true;
    serially(() => c.query({ text: 'SELECT 1', query_timeout: PING_TIMEOUT_MS } as pg.QueryConfig))
      .catch((error: unknown) => lost(c, error))
      .finally(() => {
        pinging = false;
      });
  }, PING_EVERY_MS);
  ping.unref();

  await connect();
  return {
    stop: async () => {
      stopped = true;
      clearInterval(ping);
      if (retry) clearTimeout(retry);
      const c = client ?? connecting;
      client = undefined;
      connecting = undefined;
      await c?.end().catch(() => undefined);
    },
    notify: async (channel, payload) => {
      const c = client;
      if (!c) return false;
      try {
        await serially(() => c.query('SELECT pg_notify($1, $2)', [channel, payload]));
        return true;
      } catch (error) {
        lost(c, error);
        return false;
      }
    },
  };
}
