// The owner shown in listings: a stable canonical id derived from the access key (there are no
// accounts; every configured key owns every bucket).
import { createHash } from 'node:crypto';
import { el, type XmlElement } from '@blobcache/s3-protocol';

export function ownerElement(accessKeyId: string, name = 'Owner'): XmlElement {
  const id = createHash('sha256').update(`blobcache-owner:${accessKeyId}`).digest('hex');
  return el(name, [el('ID', id), el('DisplayName', accessKeyId || 'anonymous')]);
}
