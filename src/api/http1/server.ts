/**
 * The API's HTTP/1.1 server on node:net, in place of node:http (issue #16):
 * node:http, its parser and its agent are about 0.6 MB of every idle
 * daemon's memory, and the API uses a small part of them
 * (docs/operations.md, "Memory"). The part it uses has node:http's shape
 * (createServer(listener), listen, address, close, closeIdleConnections,
 * closeAllConnections, keepAliveTimeout, 'error'), so src/api/server.ts and
 * its tests drive either. Parsing is strict and bounded (head.ts,
 * chunked.ts), one request at a time per connection (connection.ts).
 */
import { EventEmitter } from 'node:events';
import {
  createServer as createNetServer,
  type AddressInfo,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import { Connection, type ConnectionHost, type RequestListener } from './connection.js';

export type { RequestListener } from './connection.js';
export { Http1Request } from './request.js';
export { Http1Response } from './response.js';

export class Http1Server extends EventEmitter implements ConnectionHost {
  /** Idle time before a kept-alive connection is closed, ms (node:http's default). */
  keepAliveTimeout = 5000;
  closing = false;
  private readonly net: NetServer;
  private readonly conns = new Set<Connection>();

  constructor(readonly listener: RequestListener) {
    super();
    this.net = createNetServer({ noDelay: true }, (socket: Socket) => {
      if (this.closing) {
        socket.destroy();
        return;
      }
      this.conns.add(new Connection(socket, this));
    });
    this.net.on('error', (err) => this.emit('error', err));
  }

  forget(conn: Connection): void {
    this.conns.delete(conn);
  }

  listen(port: number, host: string, cb?: () => void): this {
    this.net.listen(port, host, cb);
    return this;
  }

  address(): AddressInfo | string | null {
    return this.net.address();
  }

  /** Stop accepting; `cb` once every connection has closed. Idle ones are closed now, busy ones after their answer. */
  close(cb?: (err?: Error) => void): this {
    this.closing = true;
    this.net.close(cb);
    this.closeIdleConnections();
    return this;
  }

  closeIdleConnections(): void {
    for (const c of this.conns) if (c.idle) c.socket.destroy();
  }

  closeAllConnections(): void {
    for (const c of this.conns) c.socket.destroy();
  }
}

export function createServer(listener: RequestListener): Http1Server {
  return new Http1Server(listener);
}
