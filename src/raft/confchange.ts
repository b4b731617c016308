/**
 * Single-server membership changes (thesis 4.1) and their log encoding.
 *
 * Changes take effect when their entry commits. That is safe for one server
 * at a time because every majority of the old voter set overlaps every
 * majority of the new one; the leader enforces one pending change at a time
 * and only after it has committed an entry of its own term (the fix Ongaro
 * posted to raft-dev in 2015 for the single-server algorithm).
 */
import { decode, encode } from '@msgpack/msgpack';
import { RaftError } from './errors.js';
import type { ConfState, NodeId } from './types.js';

export type ConfChangeType = 'add_voter' | 'add_learner' | 'remove';

/** `add_voter` on an existing learner promotes it; `add_learner` on a voter demotes it. */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly node: NodeId;
}

const TYPES: readonly ConfChangeType[] = ['add_voter', 'add_learner', 'remove'];

/**
 * A ConfChange log entry carries the change AND the whole configuration it
 * produces. A node catching up from index 1 (or one that joined with no
 * configuration at all) then learns the full voter set from the first
 * committed change it applies, instead of replaying deltas onto a
 * configuration it never had.
 */
export interface ConfChangeEntry {
  readonly change: ConfChange;
  readonly conf: ConfState;
}

export function encodeConfChange(e: ConfChangeEntry): Uint8Array {
  return encode([e.change.type, e.change.node, e.conf.voters, e.conf.learners]);
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

export function decodeConfChange(data: Uint8Array): ConfChangeEntry {
  const v: unknown = decode(data);
  if (!Array.isArray(v) || v.length !== 4) {
    throw new RaftError('bad_conf_change', 'conf change entry is not [type, node, voters, learners]');
  }
  const [type, node, voters, learners] = v as unknown[];
  if (typeof node !== 'string' || !TYPES.includes(type as ConfChangeType)) {
    throw new RaftError('bad_conf_change', 'conf change entry has an unknown type or node', { type, node });
  }
  if (!isStringArray(voters) || !isStringArray(learners)) {
    throw new RaftError('bad_conf_change', 'conf change entry has malformed member lists');
  }
  return { change: { type: type as ConfChangeType, node }, conf: { voters, learners } };
}

/** The configuration after `cc`; changes that are no-ops return an equal configuration. */
export function applyConfChange(conf: ConfState, cc: ConfChange): ConfState {
  const voters = conf.voters.filter((v) => v !== cc.node);
  const learners = conf.learners.filter((l) => l !== cc.node);
  if (cc.type === 'add_voter') voters.push(cc.node);
  else if (cc.type === 'add_learner') learners.push(cc.node);
  return { voters: voters.sort(), learners: learners.sort() };
}

/** Why `cc` may not be proposed against `conf`, or null when it may. */
export function validateConfChange(conf: ConfState, cc: ConfChange): string | null {
  if (cc.node === '') return 'empty node id';
  const isVoter = conf.voters.includes(cc.node);
  const isLearner = conf.learners.includes(cc.node);
  if (cc.type === 'add_voter' && isVoter) return 'already a voter';
  if (cc.type === 'add_learner' && isLearner) return 'already a learner';
  if (cc.type === 'remove' && !isVoter && !isLearner) return 'not a member';
  if (cc.type === 'remove' && isVoter && conf.voters.length === 1) return 'cannot remove the last voter';
  if (cc.type === 'add_learner' && isVoter && conf.voters.length === 1) return 'cannot demote the last voter';
  return null;
}
