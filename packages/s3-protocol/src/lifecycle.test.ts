import { describe, expect, it } from 'vitest';
import {
  abortDueAtMs,
  canTransition,
  expiresAtMs,
  type LifecycleRule,
  lifecycleFilterMatches,
  nextMidnightUtc,
  parseLifecycleConfiguration,
  transitionedClass,
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
      {
        id: 'logs',
        enabled: true,
        filter: { prefix: 'logs/', tags: [] },
        expirationDays: 7,
        transitions: [],
      },
      {
        enabled: false,
        filter: { prefix: 'tmp/', tags: [{ key: 'kind', value: 'scratch' }], sizeGreaterThan: 10 },
        expirationDateMs: Date.parse('2030-01-01T00:00:00Z'),
        transitions: [],
      },
      { enabled: true, filter: { prefix: '', tags: [] }, abortIncompleteDays: 3, transitions: [] },
      { enabled: true, filter: { prefix: '', tags: [] }, transitions: [] },
    ];
    expect(rules).toEqual(expected);
  });

  it('refuses what S3 refuses, and transitions to archive classes with 501', () => {
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
    const rule: LifecycleRule = {
      enabled: true,
      filter: { prefix: '', tags: [] },
      expirationDays: 1,
      transitions: [],
    };
    expect(expiresAtMs(rule, created)).toBe(Date.parse('2026-01-03T00:00:00Z'));
    expect(nextMidnightUtc(Date.parse('2026-01-03T00:00:00Z'))).toBe(Date.parse('2026-01-03T00:00:00Z'));
    const dated = {
      ...rule,
      expirationDays: undefined,
      expirationDateMs: Date.parse('2026-02-01T00:00:00Z'),
    };
    expect(expiresAtMs(dated, created)).toBe(Date.parse('2026-02-01T00:00:00Z'));
    expect(
      expiresAtMs({ enabled: true, filter: { prefix: '', tags: [] }, transitions: [] }, created),
    ).toBeUndefined();
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

describe('lifecycle transitions', () => {
  it('reads transitions to immediately readable classes and refuses the rest as S3 and this gateway must', () => {
    const [rule] = parseLifecycleConfiguration(
      config(
        '<Filter/><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>STANDARD_IA</StorageClass></Transition><Transition><Date>2031-01-01T00:00:00Z</Date><StorageClass>GLACIER_IR</StorageClass></Transition>',
      ),
    );
    expect(rule?.transitions).toEqual([
      { days: 30, storageClass: 'STANDARD_IA' },
      { dateMs: Date.parse('2031-01-01T00:00:00Z'), storageClass: 'GLACIER_IR' },
    ]);
    const transition = (inner: string) =>
      codeOf(config(`<Filter/><Status>Enabled</Status><Transition>${inner}</Transition>`));
    expect(transition('<Days>30</Days><StorageClass>DEEP_ARCHIVE</StorageClass>')).toBe('NotImplemented');
    expect(transition('<Days>10</Days><StorageClass>STANDARD_IA</StorageClass>')).toBe('InvalidArgument');
    expect(transition('<Days>10</Days><StorageClass>STANDARD</StorageClass>')).toBe('InvalidArgument');
    expect(transition('<Days>10</Days><StorageClass>NEARLINE</StorageClass>')).toBe('InvalidStorageClass');
    expect(transition('<StorageClass>GLACIER_IR</StorageClass>')).toBe('MalformedXML');
  });

  it('moves an object to the class of the latest transition due, skipping small objects', () => {
    const rule: LifecycleRule = {
      enabled: true,
      filter: { prefix: '', tags: [] },
      transitions: [
        { days: 30, storageClass: 'STANDARD_IA' },
        { days: 90, storageClass: 'GLACIER_IR' },
      ],
    };
    const created = Date.parse('2026-01-01T10:00:00Z');
    const big = 1024 * 1024;
    expect(transitionedClass(rule, created, big, Date.parse('2026-01-31T23:00:00Z'))).toBeUndefined();
    expect(transitionedClass(rule, created, big, Date.parse('2026-02-01T00:00:00Z'))).toBe('STANDARD_IA');
    expect(transitionedClass(rule, created, big, Date.parse('2026-06-01T00:00:00Z'))).toBe('GLACIER_IR');
    expect(transitionedClass(rule, created, 1000, Date.parse('2026-06-01T00:00:00Z'))).toBeUndefined();
    const sized = { ...rule, filter: { ...rule.filter, sizeGreaterThan: 0 } };
    expect(transitionedClass(sized, created, 1000, Date.parse('2026-06-01T00:00:00Z'))).toBe('GLACIER_IR');
  });

  it('only ever moves down the waterfall', () => {
    expect(canTransition(undefined, 'STANDARD_IA')).toBe(true);
    expect(canTransition('STANDARD_IA', 'GLACIER_IR')).toBe(true);
    expect(canTransition('GLACIER_IR', 'STANDARD_IA')).toBe(false);
    expect(canTransition('ONEZONE_IA', 'ONEZONE_IA')).toBe(false);
  });
});
