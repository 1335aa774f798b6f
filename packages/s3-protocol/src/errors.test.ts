import { describe, expect, it } from 'vitest';
import { renderErrorXml, toS3Error } from './error-xml.ts';
import { ERROR_CATALOGUE, isS3Error, S3Error, s3Error } from './errors.ts';

describe('S3Error', () => {
  it('takes status and default message from the catalogue', () => {
    const e = new S3Error('NoSuchKey');
    expect(e.status).toBe(404);
    expect(e.message).toBe(ERROR_CATALOGUE.NoSuchKey.message);
    expect(isS3Error(e)).toBe(true);
    expect(new S3Error('InvalidRange').status).toBe(416);
    expect(new S3Error('NotModified').status).toBe(304);
    expect(new S3Error('MissingContentLength').status).toBe(411);
    expect(new S3Error('SignatureDoesNotMatch').status).toBe(403);
    expect(new S3Error('NotImplemented').status).toBe(501);
  });

  it('keeps extra fields and headers', () => {
    const e = new S3Error('InvalidRange', undefined, { headers: { 'content-range': 'bytes */10' } });
    expect(e.headers).toEqual({ 'content-range': 'bytes */10' });
    expect(s3Error('NoSuchBucket', undefined, { BucketName: 'b' }).extra).toEqual({ BucketName: 'b' });
  });

  it('coerces unknown failures to InternalError without leaking their message', () => {
    const e = toS3Error(new Error('disk on fire'));
    expect(e.code).toBe('InternalError');
    expect(e.message).not.toContain('disk');
    expect(toS3Error(new S3Error('SlowDown')).code).toBe('SlowDown');
  });
});

describe('renderErrorXml', () => {
  it('renders the S3 error document without a namespace', () => {
    const xml = renderErrorXml(s3Error('NoSuchKey', undefined, { Key: 'a&b<c>' }), {
      resource: '/bkt/a&b<c>',
      requestId: 'REQ1',
      hostId: 'HOST',
    });
    expect(xml).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code>' +
        '<Message>The specified key does not exist.</Message><Key>a&amp;b&lt;c&gt;</Key>' +
        '<Resource>/bkt/a&amp;b&lt;c&gt;</Resource><RequestId>REQ1</RequestId><HostId>HOST</HostId></Error>',
    );
  });

  it('never throws on keys XML cannot carry: it percent-encodes those characters', () => {
    const xml = renderErrorXml(s3Error('NoSuchKey', undefined, { Key: 'a\u0001b' }), { requestId: 'r' });
    expect(xml).toContain('<Key>a%01b</Key>');
    expect(xml).not.toContain('Resource');
  });
});
