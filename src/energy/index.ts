/** Public surface of the energy module: pure model + monitor, and the Linux sensor readers. */
export * from './profiles.js';
export * from './model.js';
export * from './protocol.js';
export * from './forecast.js';
export * from './config.js';
export * from './summary.js';
export * from './monitor.js';
export * from './readings.js';
export * from './leadership.js';
export * from './metrics.js';
export * from './republish.js';
export * from './power-mode.js';
export * from './sensors/index.js';
