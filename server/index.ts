/**
 * `ln-mailbox/server`: the relay. This file only re-exports.
 * @module
 */
export { startRelay, RELAY_SOFTWARE_VERSION, type Relay, type StartRelayOptions } from './relay.js';
export {
  DEFAULT_CONFIG,
  SETTINGS,
  STORE_KINDS,
  resolveConfig,
  type RelayConfig,
  type SettingSpec,
  type LogLevel,
  type StoreKind,
} from './config.js';
export { runRelayCli, loadRelayConfig } from './cli.js';
export { LevelStore, type LevelStoreOptions } from './store/level/store.js';
export { PgStore, type PgStoreOptions } from './store/pg/store.js';
export type * from './store/types.js';
export { storeConformance, type StoreConformanceOptions, type TestRegistrar } from './store/conformance.js';
export type { StoreHealth, StoreState, RefusalReason, RecoveryOutcome, HealthListener } from './store/health.js';
