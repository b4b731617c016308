/**
 * swarm_lite.py on MicroPython: clients/python/tests/mpy_check.py run in MicroPython's WebAssembly
 * port (v1.27, PyScript variant), which has no sockets and no cryptolib, so the check brings fake
 * in-memory `socket`/`select` modules and exercises the built-in AES-256, GCM (NIST vectors), the
 * MessagePack subset (every gossip vector of docs/protocol.md) and two observers exchanging join,
 * metadata, an event and a leave, encrypted. It proves the file's Python is MicroPython's, not the
 * ESP32's radio. The port is an npm package the repository does not depend on yet
 * (`@micropython/micropython-webassembly-pyscript@1.27.0`): the test skips when it cannot be
 * imported; SWARM_MICROPYTHON_WASM may name its micropython.mjs elsewhere.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PY_DIR } from './helpers.js';

interface MicroPython {
  FS: { writeFile(path: string, data: string): void };
  runPython(code: string): unknown;
}
type Loader = (opts: {
  heapsize?: number;
  stdout?: (line: string) => void;
  stderr?: (line: string) => void;
}) => Promise<MicroPython>;

async function loader(): Promise<Loader | null> {
  const spec = process.env.SWARM_MICROPYTHON_WASM ?? '@micropython/micropython-webassembly-pyscript';
  try {
    const mod = (await import(spec)) as { loadMicroPython?: Loader };
    return mod.loadMicroPython ?? null;
  } catch {
    return null;
  }
}

function gossipVectors(): string[] {
  const doc = readFileSync(join(PY_DIR, '..', '..', 'docs', 'protocol.md'), 'utf8');
  return [...doc.matchAll(/```vector\n([\s\S]*?)```/g)]
    .map((m) => ({
      name: /name: (.*)/.exec(m[1]!)![1]!,
      hex: m[1]!.split('hex:\n')[1]!.replace(/\s+/g, ''),
    }))
    .filter((v) => v.name.startsWith('gossip/') && v.hex.startsWith('01'))
    .map((v) => v.hex);
}

describe('swarm_lite.py on MicroPython (WebAssembly port)', () => {
  it('passes mpy_check.py', async (ctx) => {
    const load = await loader();
    if (load === null) {
      ctx.skip();
      return;
    }
    const out: string[] = [];
    const mp = await load({
      heapsize: 8 * 1024 * 1024,
      stdout: (l) => out.push(l),
      stderr: (l) => out.push(l),
    });
    for (const f of ['swarm_lite.py', 'tests/fake_socket.py', 'tests/fake_select.py'])
      mp.FS.writeFile(`/${f.split('/').pop()!}`, readFileSync(join(PY_DIR, f), 'utf8'));
    const check = readFileSync(join(PY_DIR, 'tests', 'mpy_check.py'), 'utf8');
    mp.runPython(`VECTORS = ${JSON.stringify(gossipVectors())}\n${check}`);
    expect(out.join('\n')).toMatch(/mpy_check ok micropython (\d+) vectors/);
  });
});
