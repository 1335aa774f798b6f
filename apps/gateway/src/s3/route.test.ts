import type { AuthContext } from '@blobcache/s3-protocol';
import { describe, expect, it } from 'vitest';
import type { S3Context } from './context.ts';
import { matchRoute, type S3Route } from './route.ts';

const handle = async (): Promise<Response> => new Response(null);
const routes: S3Route[] = [
  { operation: 'PutObject', method: 'PUT', level: 'object', handle },
  {
    operation: 'CopyObject',
    method: 'PUT',
    level: 'object',
    when: (c) => c.headers['x-amz-copy-source'] !== undefined,
    handle,
  },
  { operation: 'UploadPart', method: 'PUT', level: 'object', param: ['partNumber', 'uploadId'], handle },
  {
    operation: 'UploadPartCopy',
    method: 'PUT',
    level: 'object',
    param: ['partNumber', 'uploadId'],
    when: (c) => c.headers['x-amz-copy-source'] !== undefined,
    handle,
  },
  { operation: 'GetObject', method: 'GET', level: 'object', handle },
];

function ctx(method: string, query: Record<string, string>, headers: Record<string, string> = {}): S3Context {
  return {
    method,
    headers,
    target: { rawPath: '/b/k', rawQuery: '', query: new Map(Object.entries(query)) },
    auth: {} as AuthContext,
  } as S3Context;
}

describe('matchRoute', () => {
  it('picks the most specific route: params, then a predicate, then the plain route', () => {
    expect(matchRoute(routes, ctx('PUT', {}), 'object').operation).toBe('PutObject');
    expect(matchRoute(routes, ctx('PUT', { 'x-id': 'PutObject' }), 'object').operation).toBe('PutObject');
    expect(matchRoute(routes, ctx('PUT', {}, { 'x-amz-copy-source': '/a/b' }), 'object').operation).toBe(
      'CopyObject',
    );
    expect(matchRoute(routes, ctx('PUT', { partNumber: '1', uploadId: 'u' }), 'object').operation).toBe(
      'UploadPart',
    );
    expect(
      matchRoute(
        routes,
        ctx('PUT', { partNumber: '1', uploadId: 'u' }, { 'x-amz-copy-source': '/a/b' }),
        'object',
      ).operation,
    ).toBe('UploadPartCopy');
  });

  it('answers 501 for a subresource no route claims, 405 for a method with no route', () => {
    expect(() => matchRoute(routes, ctx('GET', { acl: '' }), 'object')).toThrow(
      expect.objectContaining({ code: 'NotImplemented' }),
    );
    expect(() => matchRoute(routes, ctx('GET', { partNumber: '2' }), 'object')).toThrow(
      expect.objectContaining({ code: 'NotImplemented' }),
    );
    expect(() => matchRoute(routes, ctx('DELETE', {}), 'object')).toThrow(
      expect.objectContaining({ code: 'MethodNotAllowed' }),
    );
  });
});
