import net from 'node:net';
import WebSocket from 'ws';

/** A realtime client as SelfCommunity's web client opens it: the token as the `__<token>` sub-protocol. */
export class SocketClient {
  readonly messages: any[] = [];
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const text = data.toString();
      this.messages.push(text.startsWith('{') ? JSON.parse(text) : text);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static open(baseUrl: string, token: string): Promise<SocketClient> {
    const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/ws/notify?subscribe-user`, [`__${token}`]);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new SocketClient(socket)));
      socket.once('unexpected-response', (_req, res) => reject(new Error(`handshake refused: ${res.statusCode}`)));
      socket.once('error', reject);
    });
  }

  /** Waits until `count` messages have arrived (or fails after `ms`). */
  async waitFor(count: number, ms = 5000): Promise<any[]> {
    const deadline = Date.now() + ms;
    while (this.messages.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} messages, got ${this.messages.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.messages;
  }

  close() {
    this.socket.close();
  }
}

/** What a raw request got back: the status (0: none), the head, the body, and the body as JSON when it is. */
export interface RawAnswer {
  status: number;
  head: string;
  body: string;
  json: any;
}

/**
 * One request written byte for byte on a fresh socket (`Connection: close`), for what an HTTP
 * client refuses to send: bytes that are not UTF-8 in the path, odd request lines.
 */
export function rawRequest(
  baseUrl: string,
  request: { method: string; target: string | Buffer; headers?: Record<string, string>; body?: string | undefined },
): Promise<RawAnswer> {
  const { hostname, port } = new URL(baseUrl);
  const body = request.body === undefined ? undefined : Buffer.from(request.body);
  const headers = {
    host: `${hostname}:${port}`,
    connection: 'close',
    ...request.headers,
    ...(body && { 'content-length': String(body.length) }),
  };
  const head = Buffer.concat([
    Buffer.from(`${request.method} `),
    Buffer.from(request.target),
    Buffer.from(
      ` HTTP/1.1\r\n${Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('')}\r\n`,
    ),
  ]);
  return rawExchange(baseUrl, body ? Buffer.concat([head, body]) : head);
}

/** Writes these bytes on a fresh socket as they are and reads the answer until the server closes it. */
export function rawExchange(baseUrl: string, bytes: Buffer | string): Promise<RawAnswer> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      // A switch of protocols never ends by itself: its head is the whole answer.
      const text = Buffer.concat(chunks).toString('latin1');
      if (text.startsWith('HTTP/1.1 101 ') && text.includes('\r\n\r\n')) socket.destroy();
    });
    socket.on('error', () => {});
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const answerHead = split < 0 ? text : text.slice(0, split);
      const answerBody = split < 0 ? '' : text.slice(split + 4);
      let json: any;
      try {
        json = JSON.parse(answerBody);
      } catch {}
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answerHead)?.[1] ?? 0);
      resolve({ status, head: answerHead.split('\r\n')[0] ?? '', body: answerBody, json });
    });
    socket.write(bytes);
  });
}
