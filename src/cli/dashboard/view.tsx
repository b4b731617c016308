/** Pure ink rendering of laid-out lines: no state, no I/O, so tests render it from fixtures. */
import { Box, Text } from 'ink';
import type { ReactElement } from 'react';
import { layoutDashboard } from './layout.js';
import { layoutGreen, type GreenModel } from './green.js';
import type { LayoutOptions, Line } from './lines.js';
import type { DashboardModel } from './model.js';
import { layoutStatus, type StatusModel } from './status.js';

function LineView({ line, color }: { line: Line; color: boolean }): ReactElement {
  if (line.length === 0) return <Text> </Text>;
  return (
    <Text wrap="truncate">
      {line.map((s, i) =>
        color ? (
          <Text key={i} color={s.color} bold={s.bold === true}>
            {s.text}
          </Text>
        ) : (
          s.text
        ),
      )}
    </Text>
  );
}

/** Any screen's lines; `color` false under NO_COLOR: no colour and no bold, only text. */
export function LinesView(props: { lines: readonly Line[]; color: boolean; width: number }): ReactElement {
  return (
    <Box flexDirection="column" width={props.width}>
      {props.lines.map((l, i) => (
        <LineView key={i} line={l} color={props.color} />
      ))}
    </Box>
  );
}

interface ViewProps<M> extends LayoutOptions {
  model: M;
  color: boolean;
}

export function DashboardView({ model, color, ...o }: ViewProps<DashboardModel>): ReactElement {
  return <LinesView lines={layoutDashboard(model, o)} color={color} width={o.width} />;
}

export function GreenView({ model, color, ...o }: ViewProps<GreenModel>): ReactElement {
  return <LinesView lines={layoutGreen(model, o)} color={color} width={o.width} />;
}

export function StatusView({ model, color, ...o }: ViewProps<StatusModel>): ReactElement {
  return <LinesView lines={layoutStatus(model, o)} color={color} width={o.width} />;
}
