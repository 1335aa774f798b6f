import { defineProject } from 'vitest/config';

// Timeouts are generous because the suite shares a 2-core machine; speed is measured by
// benchmarks, never by tests.
export default defineProject({
  test: {
    name: '@blobcache/s3-protocol',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
