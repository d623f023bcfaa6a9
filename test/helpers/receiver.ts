import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
}

export type Behaviour = 'ok' | 'error' | 'redirect' | 'hang';

/** A real webhook receiver on 127.0.0.1 whose answer the test decides. */
export class Receiver {
  readonly received: Received[] = [];
  behaviour: Behaviour = 'ok';
  private hanging: http.ServerResponse[] = [];
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
      switch (this.behaviour) {
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
    for (const res of this.hanging.splice(0)) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
