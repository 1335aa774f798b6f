import { describe, expect, it } from 'vitest';
import {
  abortDueAtMs,
  expiresAtMs,
  type LifecycleRule,
  lifecycleFilterMatches,
  nextMidnightUtc,
  parseLifecycleConfiguration,
} from './lifecycle.ts';
import { s3ErrorCode } from './testing/error-code.ts';

function config(...rules: string[]): string {
  return `<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${rules.map((r) => `<Rule>${r}</Rule>`).join('')}</LifecycleConfiguration>`;
}
const codeOf = (body: string): string => s3ErrorCode(() => parseLifecycleConfiguration(body));

describe('parseLifecycleConfiguration', () => {
  it('reads filters of every form and the actions it carries out', () => {
    const rules = parseLifecycleConfiguration(
      config(
        '<ID>logs</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>7</Days></Expiration>',
        '<Filter><And><Prefix>tmp/</Prefix><Tag><Key>kind</Key><Value>scratch</Value></Tag><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></And></Filter><Status>Disabled</Status><Expiration><Date>2030-01-01T00:00:00Z</Date></Expiration>',
        '<Prefix></Prefix><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>3</DaysAfterInitiation></AbortIncompleteMultipartUpload>',
        '<Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>30</NoncurrentDays></NoncurrentVersionExpiration>',
      ),
    );
    const expected: LifecycleRule[] = [
      { id: 'logs', enabled: true, filter: { prefix: 'logs/', tags: [] }, expirationDays: 7 },
      {
        enabled: false,
        filter: { prefix: 'tmp/', tags: [{ key: 'kind', value: 'scratch' }], sizeGreaterThan: 10 },
        expirationDateMs: Date.parse('2030-01-01T00:00:00Z'),
      },
      { enabled: true, filter: { prefix: '', tags: [] }, abortIncompleteDays: 3 },
      { enabled: true, filter: { prefix: '', tags: [] } },
    ];
    expect(rules).toEqual(expected);
  });

  it('refuses what S3 refuses, and transitions (one storage class) with 501', () => {
    const ok = '<Filter/><Status>Enabled</Status>';
    expect(
      codeOf(config(`${ok}<Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition>`)),
    ).toBe('NotImplemented');
    expect(codeOf(config(ok))).toBe('InvalidRequest'); // no action
    expect(codeOf(config(`${ok}<Expiration><Days>0</Days></Expiration>`))).toBe('InvalidArgument');
    expect(codeOf(config(`${ok}<Expiration><Date>2030-01-01T12:00:00Z</Date></Expiration>`))).toBe(
      'InvalidArgument',
    );
    expect(
      codeOf(config(`${ok}<Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date></Expiration>`)),
    ).toBe('MalformedXML');
    expect(codeOf(config('<Filter/><Status>On</Status><Expiration><Days>1</Days></Expiration>'))).toBe(
      'MalformedXML',
    );
    expect(codeOf(config('<Status>Enabled</Status><Expiration><Days>1</Days></Expiration>'))).toBe(
      'MalformedXML',
    );
    expect(
      codeOf(
        config(
          '<Filter><Tag><Key>a</Key><Value>b</Value></Tag></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>',
        ),
      ),
    ).toBe('InvalidRequest');
    expect(
      codeOf(
        config(
          '<Filter><Prefix>a</Prefix><Prefix>b</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>',
        ),
      ),
    ).toBe('MalformedXML');
    const same = '<ID>x</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>';
    expect(codeOf(config(same, same))).toBe('InvalidArgument');
    expect(codeOf('<LifecycleConfiguration/>')).toBe('MalformedXML');
  });
});

describe('lifecycle arithmetic', () => {
  it('rounds due times up to midnight UTC, as S3 does', () => {
    const created = Date.parse('2026-01-01T10:00:00Z');
    const rule: LifecycleRule = { enabled: true, filter: { prefix: '', tags: [] }, expirationDays: 1 };
    expect(expiresAtMs(rule, created)).toBe(Date.parse('2026-01-03T00:00:00Z'));
    expect(nextMidnightUtc(Date.parse('2026-01-03T00:00:00Z'))).toBe(Date.parse('2026-01-03T00:00:00Z'));
    const dated = {
      ...rule,
      expirationDays: undefined,
      expirationDateMs: Date.parse('2026-02-01T00:00:00Z'),
    };
    expect(expiresAtMs(dated, created)).toBe(Date.parse('2026-02-01T00:00:00Z'));
    expect(expiresAtMs({ enabled: true, filter: { prefix: '', tags: [] } }, created)).toBeUndefined();
    expect(abortDueAtMs({ ...rule, abortIncompleteDays: 2 }, created)).toBe(
      Date.parse('2026-01-04T00:00:00Z'),
    );
  });

  it('matches prefix, size bounds and every filter tag', () => {
    const filter = {
      prefix: 'tmp/',
      tags: [{ key: 'kind', value: 'scratch' }],
      sizeGreaterThan: 10,
      sizeLessThan: 100,
    };
    const tags = [
      { key: 'kind', value: 'scratch' },
      { key: 'other', value: 'x' },
    ];
    expect(lifecycleFilterMatches(filter, 'tmp/a', 50, tags)).toBe(true);
    expect(lifecycleFilterMatches(filter, 'tmpa', 50, tags)).toBe(false);
    expect(lifecycleFilterMatches(filter, 'tmp/a', 10, tags)).toBe(false);
    expect(lifecycleFilterMatches(filter, 'tmp/a', 100, tags)).toBe(false);
    expect(lifecycleFilterMatches(filter, 'tmp/a', 50, [{ key: 'kind', value: 'keep' }])).toBe(false);
    expect(lifecycleFilterMatches(filter, 'tmp/a', 50, undefined)).toBe(false);
  });
});
