export * from './labels.js';
export * from './model.js';
export * from './placement.js';
export * from './restart.js';
export * from './scheduler.js';
export * from './spec.js';
export type { TaskStore, TaskStoreEntry } from './store.js';
