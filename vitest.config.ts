import { defineConfig } from 'vitest/config';

// One vitest run covers every workspace; each workspace may refine its own settings in a
// vitest.config.ts beside its package.json.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'test'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
