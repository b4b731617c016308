/**
 * The machinery every live screen shares (dashboard, green, status --watch):
 * polling at a fixed period through a pure reducer, terminal size, `q` and
 * Ctrl+C, SIGINT without raw mode, an outside stop (a foreground node that is
 * shutting down), and the plain output used when stdout is not a TTY. A screen
 * only says how to poll, how a poll changes its model and how the model is laid
 * out. Loaded lazily, so ink and react cost nothing to other commands.
 */
import { render, useApp, useInput, useStdin, useStdout } from 'ink';
import { useEffect, useState, type ReactElement } from 'react';
import { SwarmError } from '../../common/errors.js';
import { fitScreen, linesToText, type LayoutOptions, type Line, type LinkState } from './lines.js';
import { LinesView } from './view.js';

/** One poll's result; `error` set means the node did not answer (the screen keeps its last data). */
export interface Sample {
  at: number;
  error: string | null;
}

export interface Screen<S extends Sample, M extends LinkState> {
  poll(now: () => number): Promise<S>;
  empty(): M;
  apply(model: M, sample: S): M;
  layout(model: M, o: LayoutOptions): Line[];
}

export interface LiveOptions {
  /** Shown in the title (the node's API URL). */
  label: string;
  intervalMs: number;
  stdout: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
  env: NodeJS.ProcessEnv;
  /** Ends the live view from outside (e.g. the foreground node is stopping). */
  signal?: AbortSignal;
}

/** https://no-color.org: any non-empty value turns colour off. */
export function colorEnabled(env: NodeJS.ProcessEnv): boolean {
  return !(env.NO_COLOR !== undefined && env.NO_COLOR !== '');
}

function useTerminalSize(): { width: number; height: number } {
  const { stdout } = useStdout();
  const read = (): { width: number; height: number } => ({
    width: stdout.columns > 0 ? stdout.columns : 80,
    height: stdout.rows > 0 ? stdout.rows : 24,
  });
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = (): void => {
      // The terminal reflows the previous frame on resize, so ink's erase-by-line-count leaves
      // fragments behind; a full clear makes the next frame start clean.
      stdout.write('\u001b[2J\u001b[H');
      setSize(read());
    };
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  return size;
}

function usePolling<S extends Sample, M extends LinkState>(screen: Screen<S, M>, intervalMs: number): M {
  const [model, setModel] = useState<M>(() => screen.empty());
  useEffect(() => {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const loop = async (): Promise<void> => {
      const started = Date.now();
      const sample = await screen.poll(() => Date.now());
      if (stopped) return;
      setModel((m) => screen.apply(m, sample));
      // A slow answer (node under load) shortens the wait so the refresh period holds on average.
      timer = setTimeout(() => void loop(), Math.max(50, intervalMs - (Date.now() - started)));
    };
    void loop();
    return () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [screen, intervalMs]);
  return model;
}

interface AppProps<S extends Sample, M extends LinkState> {
  screen: Screen<S, M>;
  label: string;
  intervalMs: number;
  color: boolean;
}

function LiveApp<S extends Sample, M extends LinkState>(p: AppProps<S, M>): ReactElement {
  const { exit } = useApp();
  const model = usePolling(p.screen, p.intervalMs);
  const { width, height } = useTerminalSize();
  const [now, setNow] = useState(() => Date.now());
  // Relative times ("3s ago") move even when a poll is slow or failing.
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  // Keys need raw mode; with stdin redirected the view still runs and SIGINT ends it.
  const { isRawModeSupported } = useStdin();
  useInput(
    (input) => {
      if (input === 'q' || input === 'Q') exit();
    },
    { isActive: isRawModeSupported === true },
  );
  // One row short of the terminal: ink clears the whole screen on every frame when output fills it.
  const o: LayoutOptions = {
    width,
    height: Math.max(3, height - 1),
    now: Math.max(now, model.lastOkAt ?? 0),
    intervalMs: p.intervalMs,
    source: p.label,
  };
  return <LinesView lines={fitScreen(p.screen.layout(model, o), o)} color={p.color} width={width} />;
}

/** The one snapshot of a non-TTY run could not be taken; exit 1 with the reason. */
export class DashboardUnreachableError extends SwarmError {
  constructor(label: string, reason: string | null) {
    super('node_unreachable', `no node answers at ${label} (${reason ?? 'no answer'})`, {
      fields: { url: label },
    });
  }
}

function plainWidth(env: NodeJS.ProcessEnv): number {
  return Number(env.COLUMNS) > 0 ? Number(env.COLUMNS) : 120;
}

function plainFrame<S extends Sample, M extends LinkState>(
  screen: Screen<S, M>,
  model: M,
  at: number,
  o: Pick<LiveOptions, 'label' | 'intervalMs'>,
  width: number,
): string {
  const layout: LayoutOptions = {
    width,
    height: Infinity,
    now: at,
    intervalMs: o.intervalMs,
    source: o.label,
  };
  return linesToText(fitScreen(screen.layout(model, layout), layout));
}

/** One plain-text frame for pipes and logs: no escape codes, nothing cut by height. */
export async function snapshotText<S extends Sample, M extends LinkState>(
  screen: Screen<S, M>,
  o: Pick<LiveOptions, 'label' | 'intervalMs'>,
  width: number,
): Promise<string> {
  const sample = await screen.poll(() => Date.now());
  if (sample.error !== null) throw new DashboardUnreachableError(o.label, sample.error);
  return plainFrame(screen, screen.apply(screen.empty(), sample), sample.at, o, width);
}

/** Resolves after `ms`, or at once when `stop` says so (checked every 100 ms). */
async function pause(ms: number, stop: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (!stop() && Date.now() < until)
    await new Promise((r) => setTimeout(r, Math.min(100, until - Date.now())));
}

/**
 * Not a TTY but asked to keep watching: a plain frame every period, separated by a
 * blank line, until SIGINT or the signal. The first poll must answer (exit 1 otherwise);
 * later failures show as the reconnecting banner over the last data, as live.
 */
export async function runPlainRepeated<S extends Sample, M extends LinkState>(
  screen: Screen<S, M>,
  o: LiveOptions,
): Promise<number> {
  const width = plainWidth(o.env);
  let stop = o.signal?.aborted === true;
  const onStop = (): void => {
    stop = true;
  };
  process.once('SIGINT', onStop);
  o.signal?.addEventListener('abort', onStop);
  try {
    let model = screen.empty();
    let first = true;
    while (!stop) {
      const started = Date.now();
      const sample = await screen.poll(() => Date.now());
      if (first && sample.error !== null) throw new DashboardUnreachableError(o.label, sample.error);
      model = screen.apply(model, sample);
      o.stdout.write(`${first ? '' : '\n'}${plainFrame(screen, model, sample.at, o, width)}`);
      first = false;
      await pause(o.intervalMs - (Date.now() - started), () => stop);
    }
  } finally {
    process.off('SIGINT', onStop);
    o.signal?.removeEventListener('abort', onStop);
  }
  return 0;
}

/** Runs until `q`, Ctrl+C or the signal (live) or after one frame (not a TTY); resolves with the exit code. */
export async function runLive<S extends Sample, M extends LinkState>(
  screen: Screen<S, M>,
  o: LiveOptions,
): Promise<number> {
  if (!o.stdout.isTTY) {
    o.stdout.write(await snapshotText(screen, o, plainWidth(o.env)));
    return 0;
  }
  const instance = render(
    <LiveApp screen={screen} label={o.label} intervalMs={o.intervalMs} color={colorEnabled(o.env)} />,
    {
      stdout: o.stdout,
      stdin: o.stdin,
      exitOnCtrlC: o.stdin.isTTY === true,
      patchConsole: false,
    },
  );
  // Without raw mode Ctrl+C arrives as SIGINT rather than as a key: quit the same way, exit 0.
  const onStop = (): void => instance.unmount();
  process.once('SIGINT', onStop);
  o.signal?.addEventListener('abort', onStop);
  if (o.signal?.aborted === true) onStop();
  try {
    await instance.waitUntilExit();
  } finally {
    process.off('SIGINT', onStop);
    o.signal?.removeEventListener('abort', onStop);
    instance.cleanup();
  }
  return 0;
}
