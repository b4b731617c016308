/**
 * `swarm swarm dashboard`: the live loop around the pure model and view. Loaded
 * lazily by the command so that ink and react cost nothing to other commands.
 */
import { render, useApp, useInput, useStdin, useStdout } from 'ink';
import { useEffect, useState, type ReactElement } from 'react';
import { SwarmError } from '../../common/errors.js';
import { layoutDashboard, linesToText } from './layout.js';
import { applyPoll, emptyModel, pollOnce, type DashboardModel, type DashboardSource } from './model.js';
import { DashboardView } from './view.js';

export interface DashboardRunOptions {
  source: DashboardSource;
  /** Shown in the title (the node's API URL). */
  label: string;
  intervalMs: number;
  stdout: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
  env: NodeJS.ProcessEnv;
}

/** https://no-color.org: any non-empty value turns colour off. */
export function colorEnabled(env: NodeJS.ProcessEnv): boolean {
  return !(env.NO_COLOR !== undefined && env.NO_COLOR !== '');
}

interface AppProps {
  source: DashboardSource;
  label: string;
  intervalMs: number;
  color: boolean;
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

function usePolling(source: DashboardSource, intervalMs: number): DashboardModel {
  const [model, setModel] = useState<DashboardModel>(emptyModel);
  useEffect(() => {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const loop = async (): Promise<void> => {
      const started = Date.now();
      const sample = await pollOnce(source, () => Date.now());
      if (stopped) return;
      setModel((m) => applyPoll(m, sample));
      // A slow answer (node under load) shortens the wait so the refresh period holds on average.
      timer = setTimeout(() => void loop(), Math.max(50, intervalMs - (Date.now() - started)));
    };
    void loop();
    return () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [source, intervalMs]);
  return model;
}

function App({ source, label, intervalMs, color }: AppProps): ReactElement {
  const { exit } = useApp();
  const model = usePolling(source, intervalMs);
  const { width, height } = useTerminalSize();
  const [now, setNow] = useState(() => Date.now());
  // Relative times ("3s ago") move even when a poll is slow or failing.
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  // Keys need raw mode; with stdin redirected the dashboard still runs and SIGINT ends it.
  const { isRawModeSupported } = useStdin();
  useInput(
    (input) => {
      if (input === 'q' || input === 'Q') exit();
    },
    { isActive: isRawModeSupported === true },
  );
  // One row short of the terminal: ink clears the whole screen on every frame when output fills it.
  return (
    <DashboardView
      model={model}
      color={color}
      width={width}
      height={Math.max(3, height - 1)}
      now={Math.max(now, model.lastOkAt ?? 0)}
      intervalMs={intervalMs}
      source={label}
    />
  );
}

/** One plain-text frame for pipes and logs: no escape codes, nothing cut by height. */
export async function snapshotText(
  source: DashboardSource,
  label: string,
  intervalMs: number,
  width: number,
): Promise<string> {
  const sample = await pollOnce(source, () => Date.now());
  if (sample.members === null) throw new DashboardUnreachableError(label, sample.error);
  const model = applyPoll(emptyModel(), sample);
  return linesToText(
    layoutDashboard(model, { width, height: Infinity, now: sample.at, intervalMs, source: label }),
  );
}

/** The one snapshot of a non-TTY run could not be taken; exit 1 with the reason. */
export class DashboardUnreachableError extends SwarmError {
  constructor(label: string, reason: string | null) {
    super('node_unreachable', `no node answers at ${label} (${reason ?? 'no answer'})`, {
      fields: { url: label },
    });
  }
}

/** Runs until `q` or Ctrl+C (live) or after one frame (not a TTY); resolves with the exit code. */
export async function runDashboard(o: DashboardRunOptions): Promise<number> {
  const color = colorEnabled(o.env);
  if (!o.stdout.isTTY) {
    const width = Number(o.env.COLUMNS) > 0 ? Number(o.env.COLUMNS) : 120;
    o.stdout.write(await snapshotText(o.source, o.label, o.intervalMs, width));
    return 0;
  }
  const instance = render(<App source={o.source} label={o.label} intervalMs={o.intervalMs} color={color} />, {
    stdout: o.stdout,
    stdin: o.stdin,
    exitOnCtrlC: o.stdin.isTTY === true,
    patchConsole: false,
  });
  // Without raw mode Ctrl+C arrives as SIGINT rather than as a key: quit the same way, exit 0.
  const onSigint = (): void => instance.unmount();
  process.once('SIGINT', onSigint);
  try {
    await instance.waitUntilExit();
  } finally {
    process.off('SIGINT', onSigint);
    instance.cleanup();
  }
  return 0;
}
