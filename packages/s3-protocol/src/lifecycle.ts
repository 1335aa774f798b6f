// Bucket lifecycle configurations (PutBucketLifecycleConfiguration bodies): parsed and validated
// as S3 does, and the arithmetic of when a rule's actions fall due. Invariant: a rule returned by
// parseLifecycleConfiguration has at least one action, and every action in it is one the gateway
// carries out exactly (expiration of current objects, aborting incomplete multipart uploads,
// transitions between the immediately readable storage classes, which change the class an object
// reports: storage-class.ts) or one that can never have anything to act on here (noncurrent
// versions and expired delete markers: only `null` versions exist). Transitions to archive
// classes would need RestoreObject: NotImplemented, never accepted and ignored.

import { S3Error } from './errors.ts';
import { type Tag, validateTags } from './request-bodies.ts';
import { parseStorageClass } from './storage-class.ts';
import { childElements, childText, firstChild, parseXml, type XmlNode } from './xml-parse.ts';

export const MAX_LIFECYCLE_RULES = 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Which objects a rule applies to. `prefix` '' and no other test: every object. */
export interface LifecycleFilter {
  prefix: string;
  tags: Tag[];
  sizeGreaterThan?: number;
  sizeLessThan?: number;
}

export interface LifecycleRule {
  id?: string;
  enabled: boolean;
  filter: LifecycleFilter;
  /** Expire current objects this many days after their creation (rounded up to midnight UTC). */
  expirationDays?: number;
  /** Expire current objects from this instant on (midnight UTC). */
  expirationDateMs?: number;
  /** Abort multipart uploads this many days after their initiation (rounded up to midnight UTC). */
  abortIncompleteDays?: number;
  /** Storage class changes of current objects, by days after creation or from a date. */
  transitions: LifecycleTransition[];
}

export interface LifecycleTransition {
  days?: number;
  dateMs?: number;
  storageClass: string;
}

/** S3 moves nothing smaller into an infrequent-access class unless a size filter says so. */
export const MIN_TRANSITION_BYTES = 128 * 1024;
/** Classes S3 lets an object enter only after this many days (Transition Days). */
const MIN_TRANSITION_DAYS: ReadonlyMap<string, number> = new Map([
  ['STANDARD_IA', 30],
  ['ONEZONE_IA', 30],
]);

function malformed(detail: string): S3Error {
  return new S3Error('MalformedXML', undefined, { cause: new Error(detail) });
}

function invalidArgument(message: string): S3Error {
  return new S3Error('InvalidArgument', message);
}

function positiveDays(text: string | undefined, what: string): number {
  const t = text?.trim() ?? '';
  if (!/^\d{1,9}$/.test(t) || Number(t) === 0) throw invalidArgument(`'${what}' must be a positive integer`);
  return Number(t);
}

function nonNegativeSize(text: string, what: string): number {
  const t = text.trim();
  if (!/^\d{1,16}$/.test(t)) throw invalidArgument(`'${what}' must be a non-negative integer`);
  return Number(t);
}

function tagOf(node: XmlNode): Tag {
  const key = childText(node, 'Key');
  const value = childText(node, 'Value');
  if (key === undefined || value === undefined) throw malformed('Tag needs Key and Value');
  return { key, value };
}

/** A `<Filter>`: empty, or one of Prefix / Tag / ObjectSize*, or `<And>` of several. */
function parseFilter(node: XmlNode): LifecycleFilter {
  const parts = node.children;
  if (parts.length === 0) return { prefix: '', tags: [] };
  if (parts.length > 1) throw malformed('a Filter holds one condition; combine several with And');
  const only = parts[0]!;
  const filter: LifecycleFilter = { prefix: '', tags: [] };
  const apply = (c: XmlNode): void => {
    if (c.name === 'Prefix') filter.prefix = c.text;
    else if (c.name === 'Tag') filter.tags.push(tagOf(c));
    else if (c.name === 'ObjectSizeGreaterThan') filter.sizeGreaterThan = nonNegativeSize(c.text, c.name);
    else if (c.name === 'ObjectSizeLessThan') filter.sizeLessThan = nonNegativeSize(c.text, c.name);
    else throw malformed(`unknown filter condition ${c.name}`);
  };
  if (only.name === 'And') {
    for (const c of only.children) {
      if (c.name === 'And') throw malformed('And cannot nest');
      apply(c);
    }
  } else {
    apply(only);
  }
  validateTags(filter.tags, 50);
  if (
    filter.sizeGreaterThan !== undefined &&
    filter.sizeLessThan !== undefined &&
    filter.sizeGreaterThan >= filter.sizeLessThan
  )
    throw invalidArgument('ObjectSizeGreaterThan must be less than ObjectSizeLessThan');
  return filter;
}

/** A rule's Date: ISO 8601, at midnight GMT as S3 requires. */
function midnightDate(date: string): number {
  const ms = Date.parse(date.trim());
  if (!/^\d{4}-\d{2}-\d{2}T/.test(date.trim()) || Number.isNaN(ms)) throw malformed('Date is not ISO 8601');
  if (ms % DAY_MS !== 0) throw invalidArgument("'Date' must be at midnight GMT");
  return ms;
}

/** Midnight UTC at or after `ms` (S3 rounds a rule's due time up to the next midnight). */
export function nextMidnightUtc(ms: number): number {
  return Math.ceil(ms / DAY_MS) * DAY_MS;
}

function parseRule(node: XmlNode): LifecycleRule {
  const status = childText(node, 'Status')?.trim();
  if (status !== 'Enabled' && status !== 'Disabled') throw malformed('Status must be Enabled or Disabled');
  const rule: LifecycleRule = {
    enabled: status === 'Enabled',
    filter: { prefix: '', tags: [] },
    transitions: [],
  };
  const id = childText(node, 'ID');
  if (id !== undefined) {
    if (id.length > 255) throw invalidArgument('ID length should not exceed allowed limit of 255');
    rule.id = id;
  }
  const filterNode = firstChild(node, 'Filter');
  const legacyPrefix = childText(node, 'Prefix');
  if (filterNode !== undefined && legacyPrefix !== undefined)
    throw malformed('a Rule has Filter or Prefix, not both');
  if (filterNode === undefined && legacyPrefix === undefined)
    throw malformed('a Rule needs a Filter (or Prefix)');
  rule.filter = filterNode ? parseFilter(filterNode) : { prefix: legacyPrefix ?? '', tags: [] };

  let actions = 0;
  const expiration = firstChild(node, 'Expiration');
  if (expiration !== undefined) {
    actions++;
    const days = childText(expiration, 'Days');
    const date = childText(expiration, 'Date');
    const marker = childText(expiration, 'ExpiredObjectDeleteMarker');
    const given = [days, date, marker].filter((v) => v !== undefined).length;
    if (given !== 1)
      throw malformed('Expiration takes exactly one of Days, Date and ExpiredObjectDeleteMarker');
    if (days !== undefined) rule.expirationDays = positiveDays(days, 'Days');
    if (date !== undefined) rule.expirationDateMs = midnightDate(date);
    if (marker !== undefined) {
      if (!/^(true|false)$/.test(marker.trim()))
        throw malformed('ExpiredObjectDeleteMarker must be true or false');
      if (rule.filter.tags.length > 0)
        throw new S3Error('InvalidRequest', 'ExpiredObjectDeleteMarker cannot be specified with tags.');
      // Delete markers never exist here (versioning is never enabled): nothing to expire.
    }
  }
  const noncurrent = firstChild(node, 'NoncurrentVersionExpiration');
  if (noncurrent !== undefined) {
    actions++;
    // Noncurrent versions never exist here: the rule is checked, and holds by construction.
    positiveDays(childText(noncurrent, 'NoncurrentDays'), 'NoncurrentDays');
  }
  for (const t of childElements(node, 'Transition')) {
    actions++;
    rule.transitions.push(parseTransition(t));
  }
  for (const t of childElements(node, 'NoncurrentVersionTransition')) {
    actions++;
    // Noncurrent versions never exist here; the class must still be one this gateway keeps.
    transitionClass(childText(t, 'StorageClass'));
    positiveDays(childText(t, 'NoncurrentDays'), 'NoncurrentDays');
  }
  const abort = firstChild(node, 'AbortIncompleteMultipartUpload');
  if (abort !== undefined) {
    actions++;
    if (rule.filter.tags.length > 0)
      throw new S3Error('InvalidRequest', 'AbortIncompleteMultipartUpload cannot be specified with Tags.');
    rule.abortIncompleteDays = positiveDays(childText(abort, 'DaysAfterInitiation'), 'DaysAfterInitiation');
  }
  if (actions === 0)
    throw new S3Error('InvalidRequest', 'At least one action needs to be specified in a rule');
  return rule;
}

/** A transition's target: an immediately readable class other than STANDARD. */
function transitionClass(text: string | undefined): string {
  if (text === undefined) throw malformed('a Transition needs a StorageClass');
  const cls = parseStorageClass(text); // archive classes: NotImplemented; unknown: InvalidStorageClass
  if (cls === undefined)
    throw new S3Error('InvalidArgument', "'StorageClass' must be different for Transition action");
  return cls;
}

function parseTransition(node: XmlNode): LifecycleTransition {
  const storageClass = transitionClass(childText(node, 'StorageClass'));
  const days = childText(node, 'Days');
  const date = childText(node, 'Date');
  if ((days === undefined) === (date === undefined))
    throw malformed('a Transition takes exactly one of Days and Date');
  if (date !== undefined) return { dateMs: midnightDate(date), storageClass };
  const t = (days ?? '').trim();
  if (!/^\d{1,9}$/.test(t))
    throw invalidArgument("'Days' in Transition action must be a non-negative integer");
  const min = MIN_TRANSITION_DAYS.get(storageClass) ?? 0;
  if (Number(t) < min)
    throw invalidArgument(
      `'Days' in Transition action must be greater than or equal to ${min} for storageClass '${storageClass}'`,
    );
  return { days: Number(t), storageClass };
}

/** Parses a LifecycleConfiguration body (MalformedXML, InvalidArgument, InvalidRequest, NotImplemented). */
export function parseLifecycleConfiguration(body: string | Uint8Array): LifecycleRule[] {
  const root = parseXml(body);
  if (root.name !== 'LifecycleConfiguration')
    throw malformed(`expected <LifecycleConfiguration>, got <${root.name}>`);
  const nodes = childElements(root, 'Rule');
  if (nodes.length === 0 || nodes.length > MAX_LIFECYCLE_RULES)
    throw malformed(`a LifecycleConfiguration holds 1 to ${MAX_LIFECYCLE_RULES} rules`);
  const rules = nodes.map(parseRule);
  const ids = new Set<string>();
  for (const r of rules) {
    if (r.id === undefined) continue;
    if (ids.has(r.id)) throw invalidArgument('Rule ID must be unique. Found same ID for more than one rule');
    ids.add(r.id);
  }
  return rules;
}

/** Does `rule`'s filter select an object with this key, size and tags? */
export function lifecycleFilterMatches(
  filter: LifecycleFilter,
  key: string,
  size: number,
  tags: readonly Tag[] | undefined,
): boolean {
  if (!key.startsWith(filter.prefix)) return false;
  if (filter.sizeGreaterThan !== undefined && !(size > filter.sizeGreaterThan)) return false;
  if (filter.sizeLessThan !== undefined && !(size < filter.sizeLessThan)) return false;
  return filter.tags.every((t) => tags?.some((o) => o.key === t.key && o.value === t.value) === true);
}

/** When an object created at `createdMs` expires under `rule`, or undefined if it never does. */
export function expiresAtMs(rule: LifecycleRule, createdMs: number): number | undefined {
  const byDays =
    rule.expirationDays === undefined ? undefined : nextMidnightUtc(createdMs + rule.expirationDays * DAY_MS);
  if (byDays === undefined) return rule.expirationDateMs;
  return rule.expirationDateMs === undefined ? byDays : Math.min(byDays, rule.expirationDateMs);
}

/** When an upload initiated at `initiatedMs` is due to be aborted under `rule`, or undefined. */
export function abortDueAtMs(rule: LifecycleRule, initiatedMs: number): number | undefined {
  if (rule.abortIncompleteDays === undefined) return undefined;
  return nextMidnightUtc(initiatedMs + rule.abortIncompleteDays * DAY_MS);
}

/**
 * The storage class `rule` has moved an object to by `nowMs` (the latest transition due), or
 * undefined when none is due or the object is too small to move (MIN_TRANSITION_BYTES, unless the
 * rule's filter names a minimum size itself).
 */
export function transitionedClass(
  rule: LifecycleRule,
  createdMs: number,
  size: number,
  nowMs: number,
): string | undefined {
  if (size < MIN_TRANSITION_BYTES && rule.filter.sizeGreaterThan === undefined) return undefined;
  let latest: { atMs: number; storageClass: string } | undefined;
  for (const t of rule.transitions) {
    const atMs = t.dateMs ?? nextMidnightUtc(createdMs + (t.days ?? 0) * DAY_MS);
    if (atMs <= nowMs && (latest === undefined || atMs > latest.atMs))
      latest = { atMs, storageClass: t.storageClass };
  }
  return latest?.storageClass;
}

// S3's transition waterfall: an object only ever moves down this order (never back up).
const WATERFALL: readonly string[] = [
  'STANDARD',
  'REDUCED_REDUNDANCY',
  'STANDARD_IA',
  'INTELLIGENT_TIERING',
  'ONEZONE_IA',
  'GLACIER_IR',
];

/** Whether an object in class `from` may transition to `to` (strictly down the waterfall). */
export function canTransition(from: string | undefined, to: string): boolean {
  return WATERFALL.indexOf(to) > WATERFALL.indexOf(from ?? 'STANDARD');
}
