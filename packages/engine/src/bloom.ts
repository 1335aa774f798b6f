// Invariant: no false negatives. Every hash added since the filter was built tests positive; a
// rebuild therefore records additions made while it runs and replays them into the new filter
// before the swap (design 6.3). Blocks are 512 bits (one cache line) so a test touches one line.

const BLOCK_WORDS = 16;
const BLOCK_BITS = 512;

export class BloomFilter {
  readonly words: Uint32Array;
  readonly numBlocks: number;
  readonly k: number;
  readonly capacityItems: number;
  private recording: Buffer[] | undefined;
  private recordingLimit = 0;

  constructor(expectedItems: number, fpRate: number) {
    const n = Math.max(1024, expectedItems);
    // optimal bits, plus 15 % for the variance of blocked filters
    const bits = Math.ceil(((-n * Math.log(fpRate)) / (Math.LN2 * Math.LN2)) * 1.15);
    this.numBlocks = Math.max(1, Math.ceil(bits / BLOCK_BITS));
    this.words = new Uint32Array(this.numBlocks * BLOCK_WORDS);
    this.k = Math.max(1, Math.ceil(-Math.log2(fpRate)));
    this.capacityItems = n;
  }

  add(hash: Buffer): void {
    this.setBits(hash);
    if (this.recording) {
      if (this.recording.length < this.recordingLimit) this.recording.push(Buffer.from(hash));
      else this.recording = undefined; // overflow: the rebuild notices and aborts
    }
  }

  test(hash: Buffer): boolean {
    const w0 = hash.readUInt32LE(0);
    const w1 = hash.readUInt32LE(4);
    const base = (hash.readUInt32LE(8) % this.numBlocks) * BLOCK_WORDS;
    let h = w0;
    const delta = (w1 >>> 17) | (w1 << 15) | 1;
    for (let i = 0; i < this.k; i++) {
      const bit = h & (BLOCK_BITS - 1);
      if ((this.words[base + (bit >>> 5)]! & (1 << (bit & 31))) === 0) return false;
      h = (h + delta) >>> 0;
    }
    return true;
  }

  /** Starts capturing additions (for a rebuild running concurrently). */
  startRecording(limit: number): void {
    this.recording = [];
    this.recordingLimit = limit;
  }

  /** Stops capturing; undefined if the capture overflowed. */
  stopRecording(): Buffer[] | undefined {
    const r = this.recording;
    this.recording = undefined;
    return r;
  }

  get isRecording(): boolean {
    return this.recording !== undefined;
  }

  private setBits(hash: Buffer): void {
    const w0 = hash.readUInt32LE(0);
    const w1 = hash.readUInt32LE(4);
    const base = (hash.readUInt32LE(8) % this.numBlocks) * BLOCK_WORDS;
    let h = w0;
    const delta = (w1 >>> 17) | (w1 << 15) | 1;
    for (let i = 0; i < this.k; i++) {
      const bit = h & (BLOCK_BITS - 1);
      this.words[base + (bit >>> 5)]! |= 1 << (bit & 31);
      h = (h + delta) >>> 0;
    }
  }
}
