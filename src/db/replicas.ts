import pg from 'pg';
import { backoffMs } from '../backoff.js';
import { CHANNEL_MEMBER_WRITES } from '../contracts/channels.js';
import { AppError } from '../domain/errors.js';
import { clientConfigFor, type Database, type DatabaseHandle, kyselyOver, openPool } from './database.js';
import { listen, type Unlisten } from './listen.js';

/**
 * Reads past one database machine: the reads of a request go to a streaming replica that has replayed
 * far enough, everything else to the primary (see README.md here and docs/performance.md).
 *
 * Read-your-writes is kept on the server, per member: after a member's write, the primary's WAL
 * insert position is recorded for them, here and, through NOTIFY, in every other kith process. A
 * member's reads use a replica only once its replay position (polled every `pollMs`, so a read costs
 * no extra round trip) has reached that member's last write and the `floor`: the position of every
 * write older than `maxLagMs`, so no replica further behind than that serves anyone. Without a LISTEN
 * subscription (not yet, or lost) a process cannot hear other processes' writes, so all its reads go
 * to the primary until it subscribes again and has read the primary's position.
 */

/** Where one request's reads go, and how to run one of them there. */
export interface Reads {
  /** `primary`, or `replica-<n>` (the n-th URL of DATABASE_READ_URL). */
  readonly target: string;
  /**
   * Runs `read` on the target; when a replica fails it (down, a recovery conflict), runs it again on
   * the primary. Only for reads outside transactions: they are safe to repeat.
   */
  run<T>(read: (db: Database) => Promise<T>): Promise<T>;
}

interface Replica {
  readonly name: string;
  readonly db: Database;
  readonly pool: pg.Pool;
  /** Settings of the poll's own connection (outside the pool, so a busy pool never delays a poll). */
  readonly config: pg.ClientConfig;
  poller: pg.Client | undefined;
  readonly reads: Reads;
  /** Polled and found to be a hot standby of our primary, and no read has failed on it since. */
  up: boolean;
  /** The last replay position polled (bytes of WAL): a lower bound of where the replica is. */
  replayed: number;
  failures: number;
  nextPollAt: number;
  polling: boolean;
}

export interface ReadRouterOptions {
  /** How often each replica's replay position is read (ms). */
  pollMs?: number;
  /** A write older than this (ms) is required of every replica that serves anyone. */
  maxLagMs?: number;
  log?: { info(object: unknown, message: string): void; warn(object: unknown, message: string): void };
}

const POLL_MS = 100;
const MAX_LAG_MS = 10_000;
/** A poll that takes longer than this counts as a failure (a frozen or unreachable replica). */
const POLL_TIMEOUT_MS = 1000;
/** Back-off between polls of a replica that is down: 0.2 s doubling to 5 s. */
const RETRY_FIRST_MS = 200;
const RETRY_CAP_MS = 5000;

/** WAL positions as numbers of bytes (exact up to 2^53: 8 PiB of WAL). */
const POSITION = `(pg_current_wal_insert_lsn() - '0/0')::int8`;
const REPLAYED = `SELECT pg_is_in_recovery() AS recovery, (pg_last_wal_replay_lsn() - '0/0')::int8 AS replayed`;
const IDENTITY = `SELECT (SELECT system_identifier FROM pg_control_system())::text AS system, current_database() AS database`;
const WAL_GEOMETRY = `SELECT current_setting('wal_block_size')::int AS block,
  (SELECT setting::int8 FROM pg_settings WHERE name = 'wal_segment_size') AS segment`;

/** SQLSTATE classes that say the server, not the statement, failed: connection, operator intervention, resources. */
const SERVER_FAILURE = /^(08|57|53)/;

function serverFailed(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code !== 'string' || code.length !== 5 || SERVER_FAILURE.test(code);
}

export class ReadRouter {
  /** Reads run, by target, since the start (the /metrics counters). */
  readonly reads = new Map<string, number>();
  /** Reads a replica failed and the primary answered, by replica. */
  readonly fallbacks = new Map<string, number>();
  readonly primary: Reads;
  private readonly replicas: Replica[];
  private readonly pollMs: number;
  private readonly maxLagMs: number;
  private readonly lastWrites = new Map<number, { position: number; at: number }>();
  private floor = 0;
  /** Subscribed to other processes' writes and the floor read since: replicas may serve. */
  private synced = false;
  private listening = false;
  private syncing = false;
  /** Bumped at each subscription and loss, so a floor read for an older subscription is dropped. */
  private generation = 0;
  private next = 0;
  private timer: NodeJS.Timeout | undefined;
  private unlisten: Unlisten | undefined;
  private identity: { system: string; database: string } | undefined;
  private geometry = { block: 8192, segment: 16 * 1024 * 1024 };

  private constructor(
    primaryDb: Database,
    private readonly primaryPool: pg.Pool | undefined,
    replicas: Array<{ name: string; pool: pg.Pool; config: pg.ClientConfig }>,
    private readonly options: ReadRouterOptions,
  ) {
    this.pollMs = options.pollMs ?? POLL_MS;
    this.maxLagMs = options.maxLagMs ?? MAX_LAG_MS;
    this.primary = {
      target: 'primary',
      run: (read) => {
        this.count(this.reads, 'primary');
        return read(primaryDb);
      },
    };
    this.reads.set('primary', 0);
    this.replicas = replicas.map(({ name, pool, config }) => {
      const db = kyselyOver(pool);
      const replica: Replica = {
        name,
        db,
        pool,
        config: { ...config, statement_timeout: POLL_TIMEOUT_MS, query_timeout: POLL_TIMEOUT_MS },
        poller: undefined,
        reads: { target: name, run: (read) => this.runOn(replica, read) },
        up: false,
        replayed: 0,
        failures: 0,
        nextPollAt: 0,
        polling: false,
      };
      this.reads.set(name, 0);
      this.fallbacks.set(name, 0);
      return replica;
    });
  }

  /** Every read on the primary (no replicas configured, or the embedded database). */
  static primaryOnly(db: Database): ReadRouter {
    return new ReadRouter(db, undefined, [], {});
  }

  /**
   * Opens a pool per replica URL (the primary's pool size and timeouts), subscribes to the members'
   * writes and starts polling. Replicas are used once polled; until then reads go to the primary.
   */
  static async open(
    handle: DatabaseHandle,
    readUrls: readonly string[],
    settings: { poolSize: number; connectTimeoutMs?: number; statementTimeoutMs?: number } & ReadRouterOptions,
  ): Promise<ReadRouter> {
    if (!handle.pool) throw new Error('read replicas need PostgreSQL (DATABASE_URL)');
    const replicas = readUrls.map((url, i) => {
      const config = clientConfigFor({
        databaseUrl: url,
        connectTimeoutMs: settings.connectTimeoutMs,
        statementTimeoutMs: settings.statementTimeoutMs,
        applicationName: 'kith-read',
      });
      return { name: `replica-${i + 1}`, pool: openPool(config, settings.poolSize), config };
    });
    const router = new ReadRouter(handle.db, handle.pool, replicas, settings);
    try {
      await router.start(handle);
    } catch (error) {
      await router.close();
      throw error;
    }
    return router;
  }

  /** Where the router says what happens to replicas (the app's logger, once there is an app). */
  useLog(log: NonNullable<ReadRouterOptions['log']>) {
    this.options.log = log;
  }

  /** The replicas' names, in DATABASE_READ_URL's order. */
  get targets(): string[] {
    return this.replicas.map((r) => r.name);
  }

  /** Whether each replica is in use (polled, a standby of our primary, and not failing). */
  replicaUp(name: string): boolean {
    return this.replicas.find((r) => r.name === name)?.up ?? false;
  }

  /** Where the reads of a request by `memberId` (null: anonymous) go: no I/O, no allocation. */
  forMember(memberId: number | null): Reads {
    const count = this.replicas.length;
    if (count === 0 || !this.synced) return this.primary;
    let needed = this.floor;
    const written = memberId === null ? undefined : this.lastWrites.get(memberId);
    if (written && written.position > needed) needed = written.position;
    for (let i = 0; i < count; i++) {
      const index = (this.next + i) % count;
      const replica = this.replicas[index] as Replica;
      if (replica.up && replica.replayed >= needed) {
        this.next = (index + 1) % count;
        return replica.reads;
      }
    }
    return this.primary;
  }

  /**
   * After a member's write has committed: records the primary's position for them, here and (NOTIFY)
   * in every other process, before the answer goes out. One statement on the primary per write, and
   * none without replicas. When it fails, every read goes to the primary until the floor is read again.
   */
  async wrote(memberId: number): Promise<void> {
    if (!this.primaryPool || this.replicas.length === 0) return;
    try {
      const { rows } = await this.primaryPool.query<{ position: number }>(
        `WITH w AS (SELECT ${POSITION} AS position) SELECT position, pg_notify($1, $2 || ' ' || position) FROM w`,
        [CHANNEL_MEMBER_WRITES, String(memberId)],
      );
      this.record(memberId, Number(rows[0]?.position));
    } catch (error) {
      // A floor being read now may predate this write: it is dropped, and the next one read after it.
      this.synced = false;
      this.generation += 1;
      this.options.log?.warn({ err: error }, 'reads: cannot read the primary WAL position after a write');
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.unlisten?.();
    await Promise.all(
      this.replicas.map(async (r) => {
        const poller = r.poller;
        r.poller = undefined;
        await poller?.end().catch(() => undefined);
        await r.pool.end().catch(() => undefined);
      }),
    );
  }

  private async start(handle: DatabaseHandle) {
    if (this.replicas.length === 0 || !this.primaryPool) return;
    const pool = this.primaryPool;
    const [identity, geometry] = await Promise.all([pool.query(IDENTITY), pool.query(WAL_GEOMETRY)]);
    this.identity = identity.rows[0];
    this.geometry = geometry.rows[0];
    this.unlisten = await listen(
      handle,
      undefined,
      CHANNEL_MEMBER_WRITES,
      (payload) => {
        const [member, position] = payload.split(' ').map(Number);
        if (member && position) this.record(member, position);
      },
      (error) => {
        this.listening = false;
        this.synced = false;
        this.generation += 1;
        this.options.log?.warn({ err: error }, 'reads: LISTEN connection lost; reads go to the primary meanwhile');
      },
      () => {
        this.listening = true;
        this.generation += 1;
        void this.sync();
      },
    );
    this.timer = setInterval(() => this.tick(), this.pollMs);
    this.timer.unref();
    this.tick();
  }

  /**
   * The first position a record can end at, from the insert position: at the start of a WAL page that
   * holds no record yet, the insert position is past the page's header, where no replay ever ends.
   */
  private normalized(position: number): number {
    const { block, segment } = this.geometry;
    if (position % segment === 40) return position - 40;
    if (position % block === 24) return position - 24;
    return position;
  }

  private record(memberId: number, raw: number) {
    if (!Number.isFinite(raw)) return;
    const position = this.normalized(raw);
    const known = this.lastWrites.get(memberId);
    this.lastWrites.delete(memberId);
    this.lastWrites.set(memberId, { position: Math.max(position, known?.position ?? 0), at: Date.now() });
  }

  /** After a (re)subscription: every write before it is older than the primary's position now. */
  private async sync() {
    if (this.syncing) return;
    this.syncing = true;
    const generation = this.generation;
    try {
      const { rows } = await (this.primaryPool as pg.Pool).query<{ position: number }>(
        `SELECT ${POSITION} AS position`,
      );
      if (generation !== this.generation || !this.listening) return;
      this.floor = Math.max(this.floor, this.normalized(Number(rows[0]?.position)));
      this.synced = true;
    } catch (error) {
      this.options.log?.warn({ err: error }, 'reads: cannot read the primary WAL position; reads go to the primary');
    } finally {
      this.syncing = false;
    }
  }

  private tick() {
    const now = Date.now();
    // Writes older than the lag allowed raise the floor everyone's reads need.
    for (const [member, write] of this.lastWrites) {
      if (now - write.at < this.maxLagMs) break;
      if (write.position > this.floor) this.floor = write.position;
      this.lastWrites.delete(member);
    }
    if (this.listening && !this.synced) void this.sync();
    for (const replica of this.replicas) {
      if (!replica.polling && now >= replica.nextPollAt) void this.poll(replica);
    }
  }

  private async poll(replica: Replica) {
    replica.polling = true;
    try {
      const client = replica.poller ?? (await this.connectPoller(replica));
      const { rows } = await client.query<{ recovery: boolean; replayed: number | null }>(REPLAYED);
      const row = rows[0];
      if (!row?.recovery || row.replayed === null) {
        throw new Error(`${replica.name} is not a standby (pg_is_in_recovery() is false)`);
      }
      if (!replica.up) {
        const { rows: found } = await client.query<{ system: string; database: string }>(IDENTITY);
        if (found[0]?.system !== this.identity?.system || found[0]?.database !== this.identity?.database) {
          throw new Error(`${replica.name} does not replicate the primary's database`);
        }
        this.options.log?.info({ replica: replica.name }, 'reads: replica in use');
      }
      replica.replayed = Math.max(Number(row.replayed), replica.up ? replica.replayed : 0);
      replica.up = true;
      replica.failures = 0;
    } catch (error) {
      this.down(replica, error);
    } finally {
      replica.polling = false;
    }
  }

  private async connectPoller(replica: Replica): Promise<pg.Client> {
    const client = new pg.Client(replica.config);
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (error) {
      client.end().catch(() => undefined);
      throw error;
    }
    replica.poller = client;
    return client;
  }

  private down(replica: Replica, error: unknown) {
    const poller = replica.poller;
    replica.poller = undefined;
    poller?.end().catch(() => undefined);
    // end() waits for the server to close its side, which a frozen one never does.
    (poller as unknown as { connection?: { stream?: { destroy(): void } } } | undefined)?.connection?.stream?.destroy();
    if (replica.up) this.options.log?.warn({ err: error, replica: replica.name }, 'reads: replica not used');
    replica.up = false;
    replica.replayed = 0;
    replica.nextPollAt = Date.now() + backoffMs(replica.failures++, RETRY_FIRST_MS, RETRY_CAP_MS);
  }

  private async runOn<T>(replica: Replica, read: (db: Database) => Promise<T>): Promise<T> {
    this.count(this.reads, replica.name);
    try {
      return await read(replica.db);
    } catch (error) {
      // A service's own answer (404, 403) is the answer, wherever it was read.
      if (error instanceof AppError) throw error;
      if (serverFailed(error)) this.down(replica, error);
      this.count(this.fallbacks, replica.name);
      return this.primary.run(read);
    }
  }

  private count(map: Map<string, number>, target: string) {
    map.set(target, (map.get(target) ?? 0) + 1);
  }
}
