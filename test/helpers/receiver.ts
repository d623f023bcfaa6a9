import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
}

/**
 * ok / error (500) / redirect (302); hang: never answers; slow: answers 200 after `delayMs`; stream: sends
 * 200 and its headers, then body bytes forever; trickle: sends 200, then one byte a second.
 */
export type Behaviour = 'ok' | 'error' | 'redirect' | 'hang' | 'slow' | 'stream' | 'trickle';

/** A real webhook receiver on 127.0.0.1 whose answer the test decides. */
export class Receiver {
  readonly received: Received[] = [];
  behaviour: Behaviour = 'ok';
  delayMs = 0;
  /** Answers written and closed (a delivery the receiver finished). */
  answered = 0;
  private hanging: http.ServerResponse[] = [];
  private timers = new Set<NodeJS.Timeout>();
  private waiters: Array<() => void> = [];

  private constructor(
    private server: http.Server,
    readonly port: number,
  ) {}

  static async start(port = 0): Promise<Receiver> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const receiver = new Receiver(server, (server.address() as AddressInfo).port);
    server.on('request', (req, res) => receiver.handle(req, res));
    return receiver;
  }

  get url() {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      this.received.push({ headers: req.headers, body, json: JSON.parse(body) });
      for (const w of this.waiters.splice(0)) w();
      res.on('finish', () => this.answered++);
      const keep = (timer: NodeJS.Timeout) => {
        this.timers.add(timer);
        res.on('close', () => {
          clearTimeout(timer);
          clearInterval(timer);
          this.timers.delete(timer);
        });
      };
      switch (this.behaviour) {
        case 'slow':
          keep(setTimeout(() => res.writeHead(200).end('thanks'), this.delayMs));
          break;
        case 'stream': {
          res.writeHead(200, { 'content-type': 'text/plain' });
          const chunk = Buffer.alloc(1024, 'x');
          const pump = () => {
            while (!res.destroyed && res.write(chunk)) {}
          };
          res.on('drain', pump);
          pump();
          this.hanging.push(res);
          break;
        }
        case 'trickle':
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('t');
          keep(setInterval(() => res.write('t'), 1000));
          this.hanging.push(res);
          break;
        case 'ok':
          res.writeHead(200).end('thanks');
          break;
        case 'error':
          res.writeHead(500).end('broken');
          break;
        case 'redirect':
          res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }).end();
          break;
        case 'hang':
          this.hanging.push(res);
          break;
      }
    });
  }

  async waitFor(count: number, ms = 5000) {
    const deadline = Date.now() + ms;
    while (this.received.length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} deliveries, got ${this.received.length}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async stop() {
    for (const timer of this.timers) clearTimeout(timer);
    for (const res of this.hanging.splice(0)) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
