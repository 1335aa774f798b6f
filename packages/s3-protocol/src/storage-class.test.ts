import { describe, expect, it } from 'vitest';
import { parseStorageClass } from './storage-class.ts';
import { s3ErrorCode } from './testing/error-code.ts';

describe('parseStorageClass', () => {
  it('records immediately readable classes, STANDARD as the default', () => {
    expect(parseStorageClass(undefined)).toBeUndefined();
    expect(parseStorageClass('STANDARD')).toBeUndefined();
    expect(parseStorageClass('STANDARD_IA')).toBe('STANDARD_IA');
    expect(parseStorageClass(' GLACIER_IR ')).toBe('GLACIER_IR');
  });

  it('refuses archive classes with 501 and unknown ones with InvalidStorageClass', () => {
    expect(s3ErrorCode(() => parseStorageClass('GLACIER'))).toBe('NotImplemented');
    expect(s3ErrorCode(() => parseStorageClass('DEEP_ARCHIVE'))).toBe('NotImplemented');
    expect(s3ErrorCode(() => parseStorageClass('EXPRESS_ONEZONE'))).toBe('InvalidStorageClass');
    expect(s3ErrorCode(() => parseStorageClass('standard'))).toBe('InvalidStorageClass');
  });
});
