// Invariant: every failure the engine reports to a caller is an EngineError subclass with a stable
// `code`, so callers (the S3 gateway) can map errors without parsing messages.

export class EngineError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Key is empty, too long, or not a string/Uint8Array. */
export class InvalidKeyError extends EngineError {
  constructor(message: string) {
    super('INVALID_KEY', message);
  }
}

/** Value is not a Uint8Array. */
export class InvalidValueError extends EngineError {
  constructor(message: string) {
    super('INVALID_VALUE', message);
  }
}

/** Value exceeds `maxValueBytes`. */
export class ValueTooLargeError extends EngineError {
  readonly sizeBytes: number;
  readonly maxValueBytes: number;
  constructor(sizeBytes: number, maxValueBytes: number) {
    super('VALUE_TOO_LARGE', `value of ${sizeBytes} bytes exceeds maxValueBytes=${maxValueBytes}`);
    this.sizeBytes = sizeBytes;
    this.maxValueBytes = maxValueBytes;
  }
}

/** onFull='reject' and the put would push liveBytes above maxBytes. */
export class EngineFullError extends EngineError {
  constructor(liveBytes: number, addBytes: number, maxBytes: number) {
    super(
      'ENGINE_FULL',
      `engine full: liveBytes=${liveBytes} + ${addBytes} would exceed maxBytes=${maxBytes} (onFull=reject)`,
    );
  }
}

/** A background I/O failure put the engine in degraded mode: reads work, writes reject. */
export class EngineDegradedError extends EngineError {
  constructor(cause: unknown) {
    super('ENGINE_DEGRADED', `engine is degraded after a background I/O failure: ${describe(cause)}`, {
      cause,
    });
  }
}

/** The engine was closed (or is closing). */
export class EngineClosedError extends EngineError {
  constructor() {
    super('ENGINE_CLOSED', 'engine is closed');
  }
}

/** Stored bytes failed a CRC or key check (durable mode never serves such bytes). */
export class CorruptionError extends EngineError {
  constructor(message: string) {
    super('CORRUPTION', message);
  }
}

/** Options failed validation. */
export class ConfigError extends EngineError {
  constructor(message: string) {
    super('INVALID_CONFIG', message);
  }
}

/** The directory was written with an incompatible format version or hash algorithm. */
export class IncompatibleFormatError extends EngineError {
  constructor(message: string) {
    super('INCOMPATIBLE_FORMAT', message);
  }
}

/** A write failed with an I/O error (durable mode: the write is NOT acknowledged). */
export class WriteFailedError extends EngineError {
  constructor(cause: unknown) {
    super('WRITE_FAILED', `write failed: ${describe(cause)}`, { cause });
  }
}

export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
