import type { WebSocket } from 'ws';

/** The literal text SelfCommunity's client sends as a heartbeat, echoed back unchanged. */
export const HEARTBEAT = '--1a61c1de89b75ddfbb684b8d224ee3ae--';

export interface HubOptions {
  /** A socket whose unsent data exceeds this many bytes is a slow consumer and is dropped. */
  maxBufferedBytes: number;
  /** How often sockets are pinged; one that did not answer the previous ping is dropped. */
  pingIntervalMs: number;
}

type Tracked = WebSocket & { kithAlive?: boolean };

/** The open sockets of this process, by user. Sending never waits on a socket. */
export class Hub {
  readonly #sockets = new Map<number, Set<Tracked>>();
  readonly #timer: NodeJS.Timeout;

  constructor(private readonly options: HubOptions) {
    this.#timer = setInterval(() => this.#sweep(), options.pingIntervalMs);
    this.#timer.unref();
  }

  add(userId: number, socket: WebSocket) {
    const tracked = socket as Tracked;
    tracked.kithAlive = true;
    tracked.on('pong', () => {
      tracked.kithAlive = true;
    });
    let set = this.#sockets.get(userId);
    if (!set) {
      set = new Set();
      this.#sockets.set(userId, set);
    }
    set.add(tracked);
    tracked.on('close', () => {
      set.delete(tracked);
      if (set.size === 0 && this.#sockets.get(userId) === set) this.#sockets.delete(userId);
    });
  }

  has(userId: number) {
    return this.#sockets.has(userId);
  }

  get size() {
    let n = 0;
    for (const set of this.#sockets.values()) n += set.size;
    return n;
  }

  /** Sends a text frame to every open socket of the user; drops sockets that cannot keep up. */
  send(userId: number, text: string) {
    for (const socket of this.#sockets.get(userId) ?? []) {
      if (socket.readyState !== socket.OPEN) continue;
      if (socket.bufferedAmount + text.length > this.options.maxBufferedBytes) {
        socket.terminate();
        continue;
      }
      socket.send(text);
    }
  }

  /** Closes every open socket of the user (their account was withdrawn). */
  closeUser(userId: number, code: number, reason: string) {
    for (const socket of this.#sockets.get(userId) ?? []) socket.close(code, reason);
  }

  #sweep() {
    for (const set of this.#sockets.values()) {
      for (const socket of set) {
        if (!socket.kithAlive) {
          socket.terminate();
          continue;
        }
        socket.kithAlive = false;
        socket.ping();
      }
    }
  }

  close() {
    clearInterval(this.#timer);
    for (const set of this.#sockets.values()) for (const socket of set) socket.close(1001, 'server shutting down');
    this.#sockets.clear();
  }
}
