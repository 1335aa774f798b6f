// Storage classes as a request names them (`x-amz-storage-class`). blobcache keeps every object on
// one tier, so it accepts the classes whose objects S3 serves at once (they differ in price and
// availability, not in behaviour) and records the class asked for, reporting it back as S3 does.
// Archive classes need RestoreObject before a read: NotImplemented, never stored as if readable.
import { S3Error } from './errors.ts';

/** Classes S3 reads back immediately, recorded and reported as given. */
export const IMMEDIATE_STORAGE_CLASSES: ReadonlySet<string> = new Set([
  'STANDARD',
  'REDUCED_REDUNDANCY',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER_IR',
]);
const ARCHIVE_STORAGE_CLASSES: ReadonlySet<string> = new Set(['GLACIER', 'DEEP_ARCHIVE']);

/** The class a write asks for (undefined: STANDARD, the default); throws for the others. */
export function parseStorageClass(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const cls = value.trim();
  if (IMMEDIATE_STORAGE_CLASSES.has(cls)) return cls === 'STANDARD' ? undefined : cls;
  if (ARCHIVE_STORAGE_CLASSES.has(cls))
    throw new S3Error(
      'NotImplemented',
      `blobcache does not implement the ${cls} storage class (objects would need RestoreObject)`,
    );
  throw new S3Error('InvalidStorageClass', undefined, { extra: { StorageClassRequested: cls } });
}
