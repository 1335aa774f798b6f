import { describe, expect, it } from 'vitest';
import { formBoundary, readPostForm } from './form-data.ts';

const boundary = '----blobcacheBoundary7MA4YWxkTrZu0gW';
/** The key S3 fills in with the file name (kept out of a template-looking literal). */
const KEY = 'uploads/$' + '{filename}';

function body(fields: Record<string, string>, file: Buffer, after = ''): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields))
    parts.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`),
    );
  parts.push(
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
    ),
  );
  parts.push(file);
  parts.push(Buffer.from(`\r\n--${boundary}\r\n${after}`));
  parts.push(Buffer.from(`Content-Disposition: form-data; name="ignored"\r\n\r\nx\r\n--${boundary}--\r\n`));
  return Buffer.concat(parts);
}

async function* chunked(b: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const piece of it) out.push(Buffer.from(piece));
  return Buffer.concat(out);
}

describe('readPostForm', () => {
  // The file holds bytes that look like the start of a delimiter, so a split one is tested too.
  const file = Buffer.concat([
    Buffer.from(`\r\n--${boundary.slice(0, 10)} not a delimiter\r\n`),
    Buffer.alloc(70_000, 7),
  ]);
  const fields = { key: KEY, Policy: 'cG9saWN5', 'x-amz-meta-note': 'naïve' };

  for (const size of [1, 7, 64, 1000, 65_536]) {
    it(`reads fields, then streams the file exactly, in chunks of ${size} bytes`, async () => {
      const form = await readPostForm(chunked(body(fields, file), size), boundary);
      expect(Object.fromEntries(form.fields)).toEqual({
        key: KEY,
        policy: 'cG9saWN5',
        'x-amz-meta-note': 'naïve',
      });
      expect(form.filename).toBe('photo.jpg');
      expect(form.fileContentType).toBe('image/jpeg');
      expect((await collect(form.file)).equals(file)).toBe(true);
    });
  }

  it('refuses a body without a file, a truncated file and oversized fields', async () => {
    const noFile = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="key"\r\n\r\nk\r\n--${boundary}--\r\n`,
    );
    await expect(readPostForm(chunked(noFile, 5), boundary)).rejects.toMatchObject({
      code: 'IncorrectNumberOfFilesInPostRequest',
    });
    const whole = body(fields, file);
    const cut = whole.subarray(0, whole.length - 200);
    const form = await readPostForm(
      chunked(cut.subarray(0, cut.indexOf(Buffer.alloc(1, 7)) + 100), 50),
      boundary,
    );
    await expect(collect(form.file)).rejects.toMatchObject({ code: 'MalformedPOSTRequest' });
    const huge = body({ key: 'k', big: 'x'.repeat(70 * 1024) }, file);
    await expect(readPostForm(chunked(huge, 4096), boundary)).rejects.toMatchObject({
      code: 'MalformedPOSTRequest',
    });
  });

  it('finds the boundary of a form Content-Type only', () => {
    expect(formBoundary(`multipart/form-data; boundary=${boundary}`)).toBe(boundary);
    expect(formBoundary('multipart/form-data; boundary="a b"')).toBe('a b');
    expect(formBoundary('application/octet-stream')).toBeUndefined();
    expect(formBoundary('multipart/form-data')).toBeUndefined();
    expect(formBoundary(undefined)).toBeUndefined();
  });
});
