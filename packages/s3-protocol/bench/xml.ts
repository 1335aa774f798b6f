// Informal cost of rendering a ListObjectsV2 page (1000 Contents, as the gateway builds it with
// el()/renderXmlDocument): `node packages/s3-protocol/bench/xml.ts`. Prints µs per page (best of
// ten rounds, CPU time, because the dev machine is shared); asserts nothing.

import { el, optEl, renderXmlDocument, type XmlChild } from '../src/xml.ts';

const KEYS = 1000;
const ROUNDS = 10;
const PAGES_PER_ROUND = 20;
const lastModified = Date.UTC(2026, 10, 25, 12, 0, 0);

function page(): string {
  const rows: XmlChild[] = [];
  for (let i = 0; i < KEYS; i++) {
    rows.push(
      el('Contents', [
        el('Key', `data/2026/11/25/object-${String(i).padStart(6, '0')}.bin`),
        el('LastModified', new Date(lastModified + i)),
        el('ETag', '"9b2cf535f27731c974343645a3985328"'),
        el('ChecksumAlgorithm', 'CRC64NVME'),
        optEl('ChecksumType', 'FULL_OBJECT'),
        el('Size', 4096 + i),
        undefined,
        el('StorageClass', 'STANDARD'),
      ]),
    );
  }
  return renderXmlDocument(
    el('ListBucketResult', [
      el('Name', 'bench-bucket'),
      el('Prefix', ''),
      el('KeyCount', KEYS),
      el('MaxKeys', KEYS),
      el('IsTruncated', true),
      ...rows,
      el('NextContinuationToken', 'ZGF0YS8yMDI2LzExLzI1L29iamVjdC0wMDA5OTkuYmlu'),
    ]),
  );
}

let bytes = 0;
for (let i = 0; i < 20; i++) bytes = Buffer.byteLength(page());
let best = Number.POSITIVE_INFINITY;
for (let r = 0; r < ROUNDS; r++) {
  const cpu = process.cpuUsage();
  // byteLength flattens the string, as writing the response does.
  for (let i = 0; i < PAGES_PER_ROUND; i++) bytes = Buffer.byteLength(page());
  const used = process.cpuUsage(cpu);
  best = Math.min(best, (used.user + used.system) / PAGES_PER_ROUND);
}
process.stdout.write(
  `ListObjectsV2 page, ${KEYS} keys (${bytes} bytes): ${best.toFixed(0)} µs/page = ${((KEYS / best) * 1e3).toFixed(0)} k keys/s (build + render)\n`,
);
