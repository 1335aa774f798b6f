import { defineProject } from 'vitest/config';

// End-to-end suites: real gateways (in process and as child processes), aws-cli and the SDKs.
export default defineProject({
  test: {
    name: '@blobcache/e2e',
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 240_000,
    hookTimeout: 60_000,
  },
});
