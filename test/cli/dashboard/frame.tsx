/** The last frame ink-testing-library renders of a view, without colour, at the tests' clock. */
import { render } from 'ink-testing-library';
import type { ReactElement } from 'react';
import type { LayoutOptions } from '../../../src/cli/dashboard/lines.js';
import { T0 } from './fixtures.js';

export function frameOf<M>(
  View: (p: LayoutOptions & { model: M; color: boolean }) => ReactElement,
  model: M,
  width: number,
  height: number,
): string {
  const { lastFrame } = render(
    <View
      model={model}
      color={false}
      width={width}
      height={height}
      now={T0 + 10_000}
      intervalMs={1000}
      source="http://127.0.0.1:7001"
    />,
  );
  return lastFrame() ?? '';
}
