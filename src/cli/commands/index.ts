/** Every command group of the `swarm` program, in help order. */
import type { Registrar } from '../context.js';
import { register as version } from './version.js';
import { register as node } from './node.js';
import { register as swarm } from './swarm.js';
import { register as config } from './config.js';
import { register as keygen } from './keygen.js';
import { register as demo } from './demo.js';
import { register as agent } from './agent.js';
import { register as maelstrom } from './maelstrom.js';
import { register as kv } from './kv.js';

export const registrars: readonly Registrar[] = [
  node,
  swarm,
  kv,
  demo,
  agent,
  config,
  keygen,
  maelstrom,
  version,
];
