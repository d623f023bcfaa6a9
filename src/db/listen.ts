import pg from 'pg';
import type { DatabaseHandle } from './database.js';

export type Unlisten = () => Promise<void>;

/**
 * Subscribes to a PostgreSQL NOTIFY channel. On a server, a dedicated connection (outside the
 * pool) that reconnects after errors; on the embedded database, PGlite's own listen.
 */
export async function listen(
  handle: DatabaseHandle,
  databaseUrl: string | undefined,
  channel: string,
  onPayload: (payload: string) => void,
  onError: (error: unknown) => void = () => undefined,
): Promise<Unlisten> {
  if (handle.pglite) {
    const pglite = handle.pglite;
    const stop = await pglite.listen(channel, onPayload);
    return async () => {
      if (!pglite.closed) await stop();
    };
  }
  if (!databaseUrl) throw new Error('listen needs the database URL');

  let client: pg.Client | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  const connect = async () => {
    const c = new pg.Client({ connectionString: databaseUrl });
    c.on('notification', (message) => {
      if (message.channel === channel && message.payload !== undefined) onPayload(message.payload);
    });
    c.on('error', (error) => {
      onError(error);
      scheduleReconnect();
    });
    await c.connect();
    await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    client = c;
  };
  const scheduleReconnect = () => {
    const dead = client;
    client = undefined;
    dead?.end().catch(() => undefined);
    if (stopped || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      connect().catch((error: unknown) => {
        onError(error);
        scheduleReconnect();
      });
    }, 1000);
    retry.unref();
  };
  await connect();
  return async () => {
    stopped = true;
    if (retry) clearTimeout(retry);
    await client?.end().catch(() => undefined);
  };
}
