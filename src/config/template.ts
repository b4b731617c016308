/** The commented config file that `swarm config init` writes, generated from the schema. */
import { KEY_SPECS, SECTION_NAMES, formatTomlValue } from './keys.js';

const SECTION_NOTES: Record<string, string> = {
  network: 'Sockets and peer discovery.',
  gossip: 'Membership and dissemination.',
  consensus: 'Raft timing (times in milliseconds).',
  node: 'This node.',
  metrics: 'Node metrics.',
  energy: 'Energy and carbon accounting.',
  adaptive_gossip: 'Controller that tunes gossip to measured loss, latency, activity and battery.',
  api: 'Local REST control API (the CLI talks to the node through it).',
  raft: 'Raft replication.',
  security: 'Secrets. Keep this file private (it is written with mode 0600).',
  tasks: 'Tasks: placement by the Raft leader, supervision on every node (docs/tasks.md).',
  logging: 'Structured JSON logs (stderr in the foreground, node.log as a daemon).',
  coordination: 'Watch history, watcher cap and elections (leases, locks and elections: docs/api.md).',
};

export function configTemplate(): string {
  const out: string[] = [
    '# Swarm Orchestrator configuration (iot-swarm).',
    '# Every key is shown at its default. Environment variables SWARM_<SECTION>__<KEY>',
    '# override this file, e.g. SWARM_GOSSIP__FANOUT=5. See docs/configuration.md.',
  ];
  for (const section of SECTION_NAMES) {
    out.push('', `# ${SECTION_NOTES[section] ?? ''}`.trimEnd(), `[${section}]`);
    for (const spec of KEY_SPECS.filter((s) => s.section === section)) {
      const choices = spec.choices ? ` (${spec.choices.join(' | ')})` : '';
      out.push(`# ${spec.description}${choices}`);
      if (spec.default === undefined) out.push(`# ${spec.name} = ${spec.kind === 'number' ? '5.0' : '""'}`);
      else out.push(`${spec.name} = ${formatTomlValue(spec, spec.default)}`);
    }
  }
  return `${out.join('\n')}\n`;
}
