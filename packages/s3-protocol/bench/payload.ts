// Informal throughput of verifyPayload on a 256 MiB aws-chunked upload (64 KiB chunks, delivered
// in 64 KiB socket-sized pieces): `node packages/s3-protocol/bench/payload.ts [MiB]`. Prints MB/s
// in CPU time (the dev machine is shared) for the cases the gateway runs; asserts nothing.

import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { AuthContext } from '../src/auth/types.ts';
import { createHasher, type HashAlgorithm, toBase64 } from '../src/checksums/hashers.ts';
import { verifyPayload } from '../src/payload/verify-payload.ts';

const TOTAL_MIB = Number(process.argv[2] ?? 256);
const CHUNK_BYTES = 64 * 1024;
const CHUNKS = (TOTAL_MIB * 1024 * 1024) / CHUNK_BYTES;
const PIECE_BYTES = 64 * 1024;
const chunk = randomBytes(CHUNK_BYTES);
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

interface Case {
  name: string;
  mode: AuthContext['payloadMode'];
  trailer?: 'crc32';
  compute: HashAlgorithm[];
}

const signingKey = randomBytes(32);
const amzDate = '20261125T120000Z';
const scope = '20261125/us-east-1/s3/aws4_request';
const seedSignature = 'a'.repeat(64);

// Chunk signatures for the signed case, computed before timing (they chain, so they depend only
// on the chunk bytes, which repeat).
function chunkSignatures(): string[] {
  const sigs: string[] = [];
  let prev = seedSignature;
  const hash = createHash('sha256').update(chunk).digest('hex');
  for (let i = 0; i <= CHUNKS; i++) {
    const dataHash = i === CHUNKS ? EMPTY_SHA256 : hash;
    prev = createHmac('sha256', signingKey)
      .update(`AWS4-HMAC-SHA256-PAYLOAD\n${amzDate}\n${scope}\n${prev}\n${EMPTY_SHA256}\n${dataHash}`)
      .digest('hex');
    sigs.push(prev);
  }
  return sigs;
}

function crc32Trailer(): string {
  const h = createHasher('CRC32');
  for (let i = 0; i < CHUNKS; i++) h.update(chunk);
  return toBase64(h.digest());
}

async function* body(sigs: string[] | undefined, trailer: string | undefined): AsyncGenerator<Uint8Array> {
  const crlf = Buffer.from('\r\n');
  for (let i = 0; i < CHUNKS; i++) {
    const ext = sigs ? `;chunk-signature=${sigs[i]}` : '';
    yield Buffer.from(`${CHUNK_BYTES.toString(16)}${ext}\r\n`, 'latin1');
    for (let p = 0; p < CHUNK_BYTES; p += PIECE_BYTES) yield chunk.subarray(p, p + PIECE_BYTES);
    yield crlf;
  }
  const last = sigs ? `0;chunk-signature=${sigs[CHUNKS]}\r\n` : '0\r\n';
  yield Buffer.from(
    `${last}${trailer === undefined ? '' : `x-amz-checksum-crc32:${trailer}\r\n`}\r\n`,
    'latin1',
  );
}

async function run(c: Case, sigs: string[], crc: string): Promise<void> {
  const auth: AuthContext = { method: 'sigv4-header', accessKeyId: 'a', payloadMode: c.mode };
  const signed = c.mode === 'STREAMING-SIGNED';
  if (signed) Object.assign(auth, { signingKey, seedSignature, amzDate, scope });
  const headers: Record<string, string> = {
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': String(CHUNKS * CHUNK_BYTES),
  };
  if (c.trailer) {
    headers['x-amz-trailer'] = 'x-amz-checksum-crc32';
    headers['x-amz-sdk-checksum-algorithm'] = 'CRC32';
  }
  const cpu = process.cpuUsage();
  const wall = process.hrtime.bigint();
  const v = verifyPayload(body(signed ? sigs : undefined, c.trailer ? crc : undefined), auth, headers, {
    compute: c.compute,
  });
  let bytes = 0;
  for await (const piece of v.body) bytes += piece.length;
  v.result();
  const used = process.cpuUsage(cpu);
  const wallS = Number(process.hrtime.bigint() - wall) / 1e9;
  const mib = bytes / 1024 / 1024;
  process.stdout.write(
    `${c.name.padEnd(58)} ${(mib / ((used.user + used.system) / 1e6)).toFixed(0)} MB/s CPU, ${(mib / wallS).toFixed(0)} MB/s wall\n`,
  );
}

const cases: Case[] = [
  { name: 'unsigned-trailer, framing only', mode: 'STREAMING-UNSIGNED-TRAILER', compute: [] },
  {
    name: 'unsigned-trailer + CRC32 trailer + MD5 (gateway, SDK default)',
    mode: 'STREAMING-UNSIGNED-TRAILER',
    trailer: 'crc32',
    compute: ['MD5'],
  },
  {
    name: 'unsigned, MD5 + CRC64NVME (gateway, no client checksum)',
    mode: 'STREAMING-UNSIGNED-TRAILER',
    compute: ['MD5', 'CRC64NVME'],
  },
  {
    name: 'signed chunks (SHA-256 + HMAC per chunk) + MD5 + CRC64NVME',
    mode: 'STREAMING-SIGNED',
    compute: ['MD5', 'CRC64NVME'],
  },
];

const sigs = chunkSignatures();
const crc = crc32Trailer();
process.stdout.write(`verifyPayload, ${TOTAL_MIB} MiB aws-chunked in ${CHUNK_BYTES / 1024} KiB chunks\n`);
for (const c of cases) await run(c, sigs, crc);
