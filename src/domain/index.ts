export * from './outcome.js';
export * from './settings.js';
export * from './task.js';
export * from './errors.js';
export * from './quota.js';
export * from './caller.js';
export * from './ids.js';
export * from './retention.js';
