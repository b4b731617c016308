/**
 * The API's HTTP/1.1 server on node:net (src/api/http1/server.ts) over raw
 * sockets: keep-alive and pipelined requests answered in order on one
 * connection, Content-Length and chunked request bodies, HEAD, Connection:
 * close and HTTP/1.0, streamed answers chunked, malformed heads answered
 * with a 400 JSON body and the connection closed, an oversized head refused
 * before its end arrives, and a client that goes away seen by the answer.
 */
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createServer,
  type Http1Request,
  type Http1Response,
  type Http1Server,
} from '../../src/api/http1/server.js';

let server: Http1Server | null = null;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  const s = server;
  server = null;
  if (s) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

async function serve(listener: (req: Http1Request, res: Http1Response) => void): Promise<number> {
  const s = createServer(listener);
  server = s;
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as AddressInfo).port;
}

/** Echo: method, url, body length and text. */
function echo(req: Http1Request, res: Http1Response): void {
  const parts: Buffer[] = [];
  req.on('data', (d: Buffer) => parts.push(d));
  req.on('end', () => {
    const body = Buffer.concat(parts).toString();
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`${req.method} ${req.url} ${body.length} ${body}`);
  });
}

/** Send `data` on a fresh connection; resolve with everything read until the server closes or `until` matches. */
function exchange(port: number, data: string | string[], until?: RegExp, ms = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    let text = '';
    const timer = setTimeout(() => resolve(text), ms);
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (until?.test(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    socket.on('error', reject);
    const pieces = Array.isArray(data) ? data : [data];
    void (async () => {
      for (const p of pieces) {
        socket.write(p);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
  });
}

describe('HTTP/1.1 server on node:net', () => {
  it('keeps the connection and answers pipelined requests in order, bodies framed either way', async () => {
    const port = await serve(echo);
    const text = await exchange(
      port,
      'GET /a HTTP/1.1\r\nHost: x\r\n\r\n' +
        'PUT /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' +
        'POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n' +
        'GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    const answers = text.split(/(?=HTTP\/1\.1 )/);
    expect(answers).toHaveLength(4);
    expect(answers[0]).toMatch(
      /^HTTP\/1\.1 200 OK\r\n[^]*Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n/,
    );
    expect(answers[0]).toMatch(/\r\n\r\nGET \/a 0 $/);
    expect(answers[1]).toMatch(/Content-Length: 14\r\n[^]*\r\n\r\nPUT \/b 5 hello$/);
    expect(answers[2]).toMatch(/\r\n\r\nPOST \/c 5 abcde$/);
    expect(answers[3]).toMatch(/Connection: close\r\n\r\nGET \/d 0 $/);
  });

  it('a body and a head arriving a byte at a time', async () => {
    const port = await serve(echo);
    const req = 'PUT /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nxyz';
    const text = await exchange(port, [...req]);
    expect(text).toMatch(/\r\n\r\nPUT \/slow 3 xyz$/);
  });

  it('a body that came with its head is handed over whole, once; one that follows comes through the stream', async () => {
    const seen: string[] = [];
    const port = await serve((req, res) => {
      // /a takes its body whole; the others read the stream.
      const whole = req.url === '/a' ? req.takeWholeBody() : null;
      if (whole !== null) {
        seen.push(
          `whole ${whole.toString()} again=${String(req.takeWholeBody())} complete=${String(req.complete)}`,
        );
        res.end('ok');
        return;
      }
      echo(req, res);
    });
    const one = 'PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc';
    const split = ['PUT /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\n', 'xyz'];
    expect(await exchange(port, one, /\r\n\r\nok$/)).toMatch(/^HTTP\/1.1 200/);
    expect(seen).toEqual(['whole abc again=null complete=true']);
    expect(await exchange(port, split)).toMatch(/\r\n\r\nPUT \/b 3 xyz$/);
    // A body held whole still reads as a stream (one chunk, then its end), and the next request follows.
    const two =
      'PUT /c HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi' +
      'GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
    const text = await exchange(port, two);
    expect(text).toMatch(/PUT \/c 2 hi[\s\S]*GET \/d 0 $/);
  });

  it('HEAD: the headers of the answer, no body', async () => {
    const port = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' });
      res.end(req.method === 'HEAD' ? undefined : 'hello');
    });
    const text = await exchange(
      port,
      'HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n',
    );
    const answers = text.split(/(?=HTTP\/1\.1 )/);
    expect(answers[0]).toMatch(/content-length: 5\r\n[^]*\r\n\r\n$/);
    expect(answers[1]).toMatch(/\r\n\r\nhello$/);
  });

  it('a body written in parts is chunked to HTTP/1.1 and ends the connection for HTTP/1.0', async () => {
    const port = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      res.write('data: 1\n\n');
      setTimeout(() => res.end('data: 2\n\n'), 20);
    });
    const v11 = await exchange(port, 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(v11).toMatch(
      /Transfer-Encoding: chunked\r\n[^]*\r\n\r\n9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\n\r\n$/,
    );
    const v10 = await exchange(port, 'GET / HTTP/1.0\r\n\r\n');
    expect(v10).toMatch(/^HTTP\/1\.0 200 OK\r\n/);
    expect(v10).not.toMatch(/Transfer-Encoding/);
    expect(v10).toMatch(/Connection: close\r\n\r\ndata: 1\n\ndata: 2\n\n$/);
  });

  it('malformed heads: 400 JSON, connection closed, the listener never called', async () => {
    let called = 0;
    const port = await serve((req, res) => {
      called++;
      echo(req, res);
    });
    for (const bad of [
      'GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
      'GET / HTTP/1.1\nHost: x\n\n',
      'NOT HTTP AT ALL\r\n\r\n',
      'GET / HTTP/1.1\r\nX : y\r\n\r\n',
    ]) {
      const text = await exchange(port, bad);
      expect(text, JSON.stringify(bad)).toMatch(
        /^HTTP\/1\.1 400 Bad Request\r\nContent-Type: application\/json\r\n[^]*Connection: close\r\n\r\n\{"error":\{"code":"bad_request","message":"[^"]+"\}\}$/,
      );
    }
    // A good request after a bad one on the same connection is never read: the connection is gone.
    const text = await exchange(port, 'GET /x HTTP/1.1\r\nContent-Length: -1\r\n\r\nGET /y HTTP/1.1\r\n\r\n');
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(text).not.toMatch(/GET \/y/);
    expect(called).toBe(0);
  });

  it('an oversized head is refused (431) before its end arrives; memory stays bounded', async () => {
    const port = await serve(echo);
    // 64 KiB of one header line with no end: refused after 16 KiB, not buffered until a CRLFCRLF.
    const text = await exchange(
      port,
      ['GET / HTTP/1.1\r\nX: ', ...Array(16).fill('a'.repeat(4096))],
      /\}\}$/,
    );
    expect(text).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
  });

  it('a client that pipelines requests and reads no answer is not read further: memory stays bounded', async () => {
    const big = 'x'.repeat(64 * 1024);
    let bytesRead = 0;
    let answered = 0;
    const port = await serve((req, res) => {
      answered++;
      bytesRead = Math.max(bytesRead, req.socket.bytesRead);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(big);
    });
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    socket.pause();
    await new Promise((r) => socket.once('connect', r));
    const one = 'GET /p HTTP/1.1\r\nHost: x\r\n\r\n';
    const batch = one.repeat(1024);
    let written = 0;
    // Write until the kernel stops taking bytes (the server stopped reading), at most 64 MiB.
    while (written < 64 * 1024 * 1024) {
      written += batch.length;
      if (!socket.write(batch)) {
        const drained = await Promise.race([
          new Promise<boolean>((r) => socket.once('drain', () => r(true))),
          new Promise<boolean>((r) => setTimeout(() => r(false), 1000)),
        ]);
        if (!drained) break;
      }
    }
    console.log(
      `http1: a client pipelined ${written} bytes of requests and read nothing; the server read ${bytesRead} and answered ${answered}`,
    );
    // The server answered what fit in the socket buffers, then stopped reading requests.
    expect(written).toBeLessThan(64 * 1024 * 1024);
    expect(answered).toBeLessThan(written / one.length);
    expect(bytesRead).toBeLessThan(written);
  }, 60_000);

  it('a response sees the client leave: close without finish', async () => {
    let seen: (v: boolean) => void = () => undefined;
    const closed = new Promise<boolean>((r) => (seen = r));
    let arrived: () => void = () => undefined;
    const handling = new Promise<void>((r) => (arrived = r));
    const port = await serve((_req, res) => {
      res.once('close', () => seen(res.writableFinished));
      arrived();
    });
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    socket.write('GET /wait HTTP/1.1\r\nHost: x\r\n\r\n');
    // The client leaves while its answer is pending (a fixed sleep could end first on a loaded machine).
    await handling;
    socket.end();
    expect(await closed).toBe(false);
  });

  it('close(): idle kept-alive connections are closed at once, a busy one after its answer', async () => {
    let finish: () => void = () => undefined;
    let slowIn: () => void = () => undefined;
    let nowOut: () => void = () => undefined;
    const ready = Promise.all([
      new Promise<void>((r) => (slowIn = r)),
      new Promise<void>((r) => (nowOut = r)),
    ]);
    const port = await serve((req, res) => {
      if (req.url === '/slow') {
        finish = () => res.end('late');
        slowIn();
      } else {
        res.once('finish', nowOut);
        res.end('now');
      }
    });
    const idle = exchange(port, 'GET / HTTP/1.1\r\n\r\n');
    const busy = exchange(port, 'GET /slow HTTP/1.1\r\n\r\n');
    // One connection idle (its answer out), the other busy (its request in): a fixed sleep could end
    // before the server read them on a loaded machine, and close() found both idle.
    await ready;
    let closed = false;
    server!.close(() => (closed = true));
    expect(await idle).toMatch(/\r\n\r\nnow$/);
    expect(closed).toBe(false);
    finish();
    const text = await busy;
    expect(text).toMatch(/Connection: close\r\n\r\nlate$/);
    server = null;
  });
});
