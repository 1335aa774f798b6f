// Public surface of @blobcache/engine (contract: /work/notes/engine-api.md).
export type { EngineOptions } from './config.ts';
export { engineOptionsSchema, LMDB_MAX_KEY_BYTES, MAX_VALUE_BYTES_LIMIT } from './config.ts';
export type { EngineStats, KeysOptions } from './engine.ts';
export { BlobEngine } from './engine.ts';
export {
  ConfigError,
  CorruptionError,
  EngineClosedError,
  EngineDegradedError,
  EngineError,
  EngineFullError,
  IncompatibleFormatError,
  InvalidKeyError,
  InvalidValueError,
  ValueTooLargeError,
  WriteFailedError,
} from './errors.ts';
/** A file written whole and durably (tmp + fdatasync + rename + directory fsync), for callers' own small files. */
export { writeFileAtomic } from './fsutil.ts';
export type { KeyEntry } from './listing.ts';
export { DirectoryLockedError } from './lock.ts';
export type { ProgressOptions, ProgressSummary } from './progress.ts';
export { DEFAULT_PROGRESS_LOG_INTERVAL_MS, Progress } from './progress.ts';
