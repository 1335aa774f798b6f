import { describe, expect, it } from 'vitest';
import {
  parseCompleteMultipartUpload,
  parseCreateBucketConfiguration,
  parseDeleteObjects,
  parseOwnershipControls,
  parsePublicAccessBlock,
  parseTagging,
  parseTaggingHeader,
  parseVersioningConfiguration,
  publicAccessBlockXml,
} from './request-bodies.ts';
import { s3ErrorCode } from './testing/error-code.ts';
import { renderXmlDocument } from './xml.ts';

describe('parseCompleteMultipartUpload', () => {
  it('reads parts with and without namespace, quotes and checksums', () => {
    const withNs =
      '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>"aa"</ETag>' +
      '<PartNumber>1</PartNumber><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>' +
      '<Part><PartNumber> 2 </PartNumber><ETag>&quot;bb&quot;</ETag></Part></CompleteMultipartUpload>';
    expect(parseCompleteMultipartUpload(withNs)).toEqual([
      { partNumber: 1, etag: 'aa', checksumCRC32: 'AAAAAA==' },
      { partNumber: 2, etag: 'bb' },
    ]);
    expect(
      parseCompleteMultipartUpload(
        '<CompleteMultipartUpload><Part><PartNumber>3</PartNumber><ETag>cc</ETag></Part></CompleteMultipartUpload>',
      ),
    ).toEqual([{ partNumber: 3, etag: 'cc' }]);
  });

  it('rejects bad shapes with S3 codes', () => {
    expect(s3ErrorCode(() => parseCompleteMultipartUpload('<CompleteMultipartUpload/>'))).toBe(
      'MalformedXML',
    );
    expect(s3ErrorCode(() => parseCompleteMultipartUpload('<Other/>'))).toBe('MalformedXML');
    expect(
      s3ErrorCode(() =>
        parseCompleteMultipartUpload(
          '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>',
        ),
      ),
    ).toBe('MalformedXML');
    expect(
      s3ErrorCode(() =>
        parseCompleteMultipartUpload(
          '<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>a</ETag></Part><Part><PartNumber>1</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>',
        ),
      ),
    ).toBe('InvalidPartOrder');
    expect(
      s3ErrorCode(() =>
        parseCompleteMultipartUpload(
          '<CompleteMultipartUpload><Part><PartNumber>10001</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>',
        ),
      ),
    ).toBe('InvalidArgument');
    expect(
      s3ErrorCode(() =>
        parseCompleteMultipartUpload(
          '<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>',
        ),
      ),
    ).toBe('MalformedXML');
  });
});

describe('parseDeleteObjects', () => {
  it('keeps keys byte-exact and reads Quiet', () => {
    const body =
      '<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key> sp ace </Key></Object>' +
      '<Object><Key>a&amp;b&#13;</Key><VersionId>v1</VersionId></Object><Quiet>true</Quiet></Delete>';
    expect(parseDeleteObjects(body)).toEqual({
      quiet: true,
      objects: [{ key: ' sp ace ' }, { key: 'a&b\r', versionId: 'v1' }],
    });
  });

  it('requires 1..1000 objects', () => {
    expect(s3ErrorCode(() => parseDeleteObjects('<Delete></Delete>'))).toBe('MalformedXML');
    const many = `<Delete>${'<Object><Key>k</Key></Object>'.repeat(1001)}</Delete>`;
    expect(s3ErrorCode(() => parseDeleteObjects(many))).toBe('MalformedXML');
    expect(s3ErrorCode(() => parseDeleteObjects('<Delete><Object/></Delete>'))).toBe('MalformedXML');
  });
});

describe('parseCreateBucketConfiguration', () => {
  it('reads the location constraint; empty body means none', () => {
    expect(parseCreateBucketConfiguration('')).toEqual({});
    expect(
      parseCreateBucketConfiguration(
        '<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>',
      ),
    ).toEqual({ locationConstraint: 'eu-west-1' });
    expect(s3ErrorCode(() => parseCreateBucketConfiguration('<Foo/>'))).toBe('MalformedXML');
  });
});

describe('parseTagging', () => {
  it('reads tags and rejects duplicates and too many', () => {
    expect(
      parseTagging(
        '<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key><Value></Value></Tag></TagSet></Tagging>',
      ),
    ).toEqual([
      { key: 'a', value: '1' },
      { key: 'b', value: '' },
    ]);
    expect(
      s3ErrorCode(() =>
        parseTagging(
          '<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>a</Key><Value>2</Value></Tag></TagSet></Tagging>',
        ),
      ),
    ).toBe('InvalidTag');
    const eleven = `<Tagging><TagSet>${Array.from({ length: 11 }, (_, i) => `<Tag><Key>k${i}</Key><Value>v</Value></Tag>`).join('')}</TagSet></Tagging>`;
    expect(s3ErrorCode(() => parseTagging(eleven))).toBe('InvalidTag');
    expect(parseTagging(eleven, { maxTags: 50 })).toHaveLength(11);
    const reserved = '<Tagging><TagSet><Tag><Key>aws:x</Key><Value>1</Value></Tag></TagSet></Tagging>';
    expect(s3ErrorCode(() => parseTagging(reserved))).toBe('InvalidTag');
  });
});

describe('parseTaggingHeader', () => {
  it('reads the URL-encoded x-amz-tagging form and applies the tag rules', () => {
    expect(parseTaggingHeader('project=blue%20sky&team=a%2Bb&empty=&sp=x+y')).toEqual([
      { key: 'project', value: 'blue sky' },
      { key: 'team', value: 'a+b' },
      { key: 'empty', value: '' },
      { key: 'sp', value: 'x y' },
    ]);
    expect(parseTaggingHeader('')).toEqual([]);
    expect(s3ErrorCode(() => parseTaggingHeader('a=1&a=2'))).toBe('InvalidTag');
    expect(s3ErrorCode(() => parseTaggingHeader(`k=${'v'.repeat(257)}`))).toBe('InvalidTag');
    expect(
      s3ErrorCode(() => parseTaggingHeader(Array.from({ length: 11 }, (_, i) => `k${i}=v`).join('&'))),
    ).toBe('InvalidTag');
  });
});

describe('parseVersioningConfiguration', () => {
  it('reads Status and MfaDelete and refuses anything else', () => {
    expect(
      parseVersioningConfiguration(
        '<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>',
      ),
    ).toEqual({ status: 'Suspended' });
    expect(
      parseVersioningConfiguration(
        '<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Disabled</MfaDelete></VersioningConfiguration>',
      ),
    ).toEqual({ status: 'Enabled', mfaDelete: 'Disabled' });
    expect(s3ErrorCode(() => parseVersioningConfiguration('<VersioningConfiguration/>'))).toBe(
      'MalformedXML',
    );
    expect(s3ErrorCode(() => parseVersioningConfiguration('<Other><Status>Enabled</Status></Other>'))).toBe(
      'MalformedXML',
    );
  });
});

describe('parsePublicAccessBlock', () => {
  it('reads the four settings, false when absent, and renders them back', () => {
    const block = parsePublicAccessBlock(
      '<PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><BlockPublicAcls>true</BlockPublicAcls><RestrictPublicBuckets>TRUE</RestrictPublicBuckets></PublicAccessBlockConfiguration>',
    );
    expect(block).toEqual({
      blockPublicAcls: true,
      ignorePublicAcls: false,
      blockPublicPolicy: false,
      restrictPublicBuckets: true,
    });
    expect(parsePublicAccessBlock(renderXmlDocument(publicAccessBlockXml(block)))).toEqual(block);
  });

  it('refuses other values and other documents', () => {
    const bad = [
      '<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls></PublicAccessBlockConfiguration>',
      '<Tagging/>',
    ];
    for (const body of bad) expect(s3ErrorCode(() => parsePublicAccessBlock(body))).toBe('MalformedXML');
  });
});

describe('parseOwnershipControls', () => {
  it('reads the one rule, and refuses anything else', () => {
    const doc = (rules: string) => `<OwnershipControls>${rules}</OwnershipControls>`;
    expect(parseOwnershipControls(doc('<Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule>'))).toBe(
      'ObjectWriter',
    );
    for (const body of [
      doc(''),
      doc('<Rule><ObjectOwnership>Nobody</ObjectOwnership></Rule>'),
      doc(
        '<Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule>',
      ),
    ])
      expect(s3ErrorCode(() => parseOwnershipControls(body))).toBe('MalformedXML');
  });
});
