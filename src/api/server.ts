/**
 * The API as a node component: listens on api.bind_address:api.port and
 * reports its actual address (the port may be 0 = picked by the OS).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { SwarmError } from '../common/errors.js';
import type { ComponentStatus, NodeComponent, SwarmNode } from '../node/node.js';
import { createApi, type ApiRoutes } from './app.js';

/** The API port could not be bound (in use, no permission, bad address). */
export class ListenError extends SwarmError {
  constructor(what: string, host: string, port: number, cause: NodeJS.ErrnoException) {
    const reason =
      cause.code === 'EADDRINUSE'
        ? 'is in use'
        : cause.code === 'EACCES'
          ? 'needs privileges'
          : cause.code === 'EADDRNOTAVAIL'
            ? 'is not an address of this machine'
            : `cannot be bound (${cause.code ?? cause.message})`;
    super('listen_failed', `${what} ${formatHostPort(host, port)} ${reason}`, {
      fields: { host, port },
      cause,
    });
  }
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function isLoopback(host: string): boolean {
  return host === '::1' || host.startsWith('127.');
}

export class ApiServer implements NodeComponent {
  readonly name = 'api';
  private server: Server | null = null;
  private address: string | null = null;
  private readonly routes: readonly ApiRoutes[];

  constructor(opts: { routes?: readonly ApiRoutes[] } = {}) {
    this.routes = opts.routes ?? [];
  }

  async start(node: SwarmNode): Promise<void> {
    const { bind_address: host, port } = node.config.api;
    const app = createApi(node, { apiToken: node.config.security.api_token, routes: this.routes });
    const server = createServer(getRequestListener(app.fetch));
    // Clients (fetch, node:http) reuse a socket only while more than ~1 s of the
    // server's keep-alive hint remains; 5 s lets agents and followers' relays keep
    // one connection (measured: 592 -> 1213 KV writes/s in-process). Shutdown
    // closes idle sockets itself, so a long timeout does not delay `stop()`.
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void =>
        reject(new ListenError('api port', host, port, err));
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => node.log.error('api server error', { error: err }));
    this.server = server;
    const a = server.address() as AddressInfo;
    this.address = formatHostPort(host, a.port);
    node.log.info('api listening', { address: this.address });
    if (!isLoopback(host) && node.config.security.api_token === '') {
      node.log.warn('api reachable from the network without security.api_token: anyone can stop this node', {
        address: this.address,
      });
    }
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      // A client holding a request open must not keep the node from stopping.
      setTimeout(() => server.closeAllConnections(), 2000).unref();
    });
  }

  status(): ComponentStatus {
    return { addresses: { api: this.address } };
  }
}
