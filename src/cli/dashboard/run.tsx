/**
 * The three live screens as `Screen`s for the shared loop in live.tsx: each is
 * its pure poll, reducer and layout. Loaded lazily by the commands.
 */
import {
  applyGreenPoll,
  emptyGreenModel,
  layoutGreen,
  pollGreen,
  type GreenModel,
  type GreenSample,
  type GreenSource,
} from './green.js';
import { layoutDashboard } from './layout.js';
import { runLive, runPlainRepeated, type LiveOptions, type Screen } from './live.js';
import {
  applyPoll,
  emptyModel,
  pollOnce,
  type DashboardModel,
  type DashboardSource,
  type PollSample,
} from './model.js';
import {
  applyStatusPoll,
  emptyStatusModel,
  layoutStatus,
  pollStatus,
  type StatusModel,
  type StatusSample,
  type StatusSource,
} from './status.js';

export { DashboardUnreachableError, colorEnabled } from './live.js';

export type SwarmSource = DashboardSource & GreenSource & StatusSource;

export function dashboardScreen(source: DashboardSource): Screen<PollSample, DashboardModel> {
  return {
    poll: (now) => pollOnce(source, now),
    empty: emptyModel,
    apply: (m, s) => applyPoll(m, s),
    layout: layoutDashboard,
  };
}

export function greenScreen(source: GreenSource): Screen<GreenSample, GreenModel> {
  return {
    poll: (now) => pollGreen(source, now),
    empty: emptyGreenModel,
    apply: (m, s) => applyGreenPoll(m, s),
    layout: layoutGreen,
  };
}

export function statusScreen(source: StatusSource): Screen<StatusSample, StatusModel> {
  return {
    poll: (now) => pollStatus(source, now),
    empty: emptyStatusModel,
    apply: applyStatusPoll,
    layout: layoutStatus,
  };
}

export interface RunOptions extends LiveOptions {
  source: SwarmSource;
}

export function runDashboard(o: RunOptions): Promise<number> {
  return runLive(dashboardScreen(o.source), o);
}

export function runGreen(o: RunOptions): Promise<number> {
  return runLive(greenScreen(o.source), o);
}

/** Live when stdout is a TTY; otherwise a plain table every period (no escape codes). */
export function runStatusWatch(o: RunOptions): Promise<number> {
  return o.stdout.isTTY ? runLive(statusScreen(o.source), o) : runPlainRepeated(statusScreen(o.source), o);
}
