/**
 * The Maelstrom workloads `swarm maelstrom <name>` can serve. Each entry
 * becomes one subcommand; another workload (e.g. `broadcast`) plugs in by
 * exporting a MaelstromWorkload and adding it to `workloads` below.
 */
import type { NodeIo } from './runtime.js';
import { linKvWorkload } from './lin-kv.js';
import { broadcastWorkload } from './broadcast.js';

export interface WorkloadOption {
  /** commander flag spelling, e.g. '--heartbeat-ms <ms>'. */
  readonly flags: string;
  readonly description: string;
  readonly defaultValue?: string;
}

export interface MaelstromWorkload {
  readonly name: string;
  readonly description: string;
  readonly options?: readonly WorkloadOption[];
  /** Serves the protocol on `io` until the input ends. `opts` holds the parsed options (camelCase keys). */
  run(io: NodeIo, opts: Readonly<Record<string, string | boolean | undefined>>): Promise<void>;
}

export const workloads: MaelstromWorkload[] = [linKvWorkload, broadcastWorkload];
