import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEV_CREDENTIAL,
  effectiveCredentials,
  loadConfig,
  parseByteSize,
  parseConfig,
  parseCredentials,
  renderConfigTable,
  renderHelp,
} from './config.ts';

describe('config', () => {
  it('defaults serve 127.0.0.1:9000 with data in ./data', () => {
    const c = loadConfig([], {});
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 9000,
      dataDir: './data',
      region: 'us-east-1',
      domain: 'localhost',
    });
    expect(c.maxBytes).toBe(0);
    expect(c.credentials).toEqual([]);
  });

  it('flags override environment variables', () => {
    const c = loadConfig(['--port', '0', '--region=eu-west-1'], {
      BLOBCACHE_PORT: '9100',
      BLOBCACHE_REGION: 'x',
      BLOBCACHE_HOST: '::1',
    });
    expect(c.port).toBe(0);
    expect(c.region).toBe('eu-west-1');
    expect(c.host).toBe('::1');
  });

  it('parses byte sizes with units', () => {
    expect(parseByteSize('20GiB')).toBe(20 * 2 ** 30);
    expect(parseByteSize('512MB')).toBe(512e6);
    expect(parseByteSize('1048576')).toBe(1048576);
    expect(loadConfig([], { BLOBCACHE_MAX_BYTES: '1.5GiB' }).maxBytes).toBe(1.5 * 2 ** 30);
    expect(() => loadConfig([], { BLOBCACHE_MAX_BYTES: '1MiB' })).toThrow(/at least 64MiB/);
    expect(() => parseByteSize('lots')).toThrow(ConfigError);
    expect(() => loadConfig([], { BLOBCACHE_MAX_BYTES: '12 parsecs' })).toThrow(/BLOBCACHE_MAX_BYTES/);
  });

  it('splits credentials on the first colon only; secrets keep / + = and :', () => {
    expect(parseCredentials('AKID:wJa/l+r=X:y, second:s')).toEqual([
      { accessKeyId: 'AKID', secretAccessKey: 'wJa/l+r=X:y' },
      { accessKeyId: 'second', secretAccessKey: 's' },
    ]);
    expect(() => parseCredentials('nocolon')).toThrow(ConfigError);
    expect(() => parseCredentials(':secret')).toThrow(ConfigError);
  });

  it('rejects unknown flags and bad values with the setting named', () => {
    expect(() => loadConfig(['--prot', '1'], {})).toThrow(/unknown option: --prot/);
    expect(() => loadConfig(['--port', '70000'], {})).toThrow(/BLOBCACHE_PORT/);
    expect(() => loadConfig(['--log-level', 'chatty'], {})).toThrow(/BLOBCACHE_LOG_LEVEL/);
  });

  it('accepts the development pair only on loopback', () => {
    expect(effectiveCredentials(parseConfig({}))).toEqual([DEV_CREDENTIAL]);
    expect(effectiveCredentials(parseConfig({ host: '::1' }))).toEqual([DEV_CREDENTIAL]);
    expect(() => effectiveCredentials(parseConfig({ host: '0.0.0.0' }))).toThrow(
      /refusing to bind 0\.0\.0\.0/,
    );
    expect(effectiveCredentials(parseConfig({ host: '0.0.0.0', credentials: 'a:b' }))).toEqual([
      { accessKeyId: 'a', secretAccessKey: 'b' },
    ]);
  });

  it('renders --help and the README table from the schema', () => {
    const help = renderHelp();
    const table = renderConfigTable();
    for (const name of [
      'BLOBCACHE_HOST',
      'BLOBCACHE_PORT',
      'BLOBCACHE_DATA_DIR',
      'BLOBCACHE_CREDENTIALS',
      'BLOBCACHE_REGION',
      'BLOBCACHE_DOMAIN',
      'BLOBCACHE_MAX_BYTES',
      'BLOBCACHE_LOG_LEVEL',
    ]) {
      expect(help).toContain(name);
      expect(table).toContain(`\`${name}\``);
    }
    expect(help).toContain('--data-dir');
    expect(table).toContain('| `BLOBCACHE_PORT` | `--port` | `9000` |');
  });
});

describe('README', () => {
  it('carries the configuration table rendered from the schema', async () => {
    const { readFile } = await import('node:fs/promises');
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    const m = /<!-- config-table:start -->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(readme);
    // Compare cell by cell: a Markdown formatter may pad the columns.
    const cells = (table: string) =>
      table.split('\n').map((row) =>
        row
          .split('|')
          .map((c) => c.trim())
          .map((c) => (/^-+$/.test(c) ? '---' : c)),
      );
    expect(cells(m?.[1] ?? '')).toEqual(cells(renderConfigTable()));
  });
});
