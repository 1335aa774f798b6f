import { S3Error } from '../errors.ts';

/** The S3 error code `fn` throws, or 'ok' when it returns (any other throw propagates). */
export function s3ErrorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof S3Error) return e.code;
    throw e;
  }
  return 'ok';
}
