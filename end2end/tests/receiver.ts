// A real HTTP receiver on 127.0.0.1 and a free port that records what it
// was sent and answers with a fixed status and body.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export class Receiver {
  readonly received: Received[] = [];
  private server?: http.Server;
  /** The status to answer a request's body with; tests may swap it. */
  statusFor: (body: string) => number;
  constructor(status: number | ((body: string) => number) = 200, private answer = 'ok') {
    this.statusFor = typeof status === 'number' ? () => status : status;
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        this.received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        res.writeHead(this.statusFor(body), { 'content-type': 'text/plain', 'x-receiver': 'e2e' });
        res.end(this.answer);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async stop() {
    // Postback keeps its connections alive; close them, or close() waits.
    const closed = new Promise<void>((resolve) => this.server?.close(() => resolve()));
    this.server?.closeAllConnections();
    await closed;
  }
}
