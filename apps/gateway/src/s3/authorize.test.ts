import { describe, expect, it } from 'vitest';
import { OPERATION_ACTIONS } from './authorize.ts';
import { S3_ROUTES } from './operations.ts';

describe('OPERATION_ACTIONS', () => {
  it('names the IAM action of every routed operation (a missing one could slip past a Deny of s3:*)', () => {
    const missing = S3_ROUTES.map((r) => r.operation).filter((op) => OPERATION_ACTIONS[op] === undefined);
    expect(missing).toEqual([]);
    for (const action of Object.values(OPERATION_ACTIONS)) expect(action).toMatch(/^s3:[A-Za-z]+$/);
  });
});
