export type { Parsed } from './parse.js';
export * from './procfs.js';
export * from './sysfs.js';
export * from './read.js';
export * from './collector.js';
