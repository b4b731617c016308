/** Pure ink rendering of laid-out lines: no state, no I/O, so tests render it from fixtures. */
import { Box, Text } from 'ink';
import type { ReactElement } from 'react';
import { layoutDashboard, type Line, type LayoutOptions } from './layout.js';
import type { DashboardModel } from './model.js';

export interface DashboardViewProps extends LayoutOptions {
  model: DashboardModel;
  /** False under NO_COLOR: no colour and no bold, only text. */
  color: boolean;
}

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

export function DashboardView(props: DashboardViewProps): ReactElement {
  const { model, color, ...layout } = props;
  const lines = layoutDashboard(model, layout);
  return (
    <Box flexDirection="column" width={layout.width}>
      {lines.map((l, i) => (
        <LineView key={i} line={l} color={color} />
      ))}
    </Box>
  );
}
