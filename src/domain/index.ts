export * from './outcome.js';
export * from './limits.js';
export * from './task.js';
export * from './errors.js';
export * from './quota.js';
