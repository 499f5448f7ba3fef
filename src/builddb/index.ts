export { BuildDB, type OpenOptions } from './db.js';
export { FailSafeBuildDB } from './failsafe.js';
export type { EngineStore } from './store.js';
export * from './errors.js';
export * from './types.js';
export { ANALYTICS, type AnalyticsName } from './analytics.js';
export { SCHEMA_VERSION, MIGRATIONS } from './schema.js';
