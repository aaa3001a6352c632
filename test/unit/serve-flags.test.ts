/**
 * `pcloud serve`'s operating flags, through the compiled CLI (run `npm run build` first): a --metrics-listen that is
 * no address, or an --access-log it cannot write, is refused in one line, exit 1, before anything is started.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAST_TIER } from '../support/tier.js';

const CLI = join(new URL('../../', import.meta.url).pathname, 'dist/src/cli/main.js');
const base = mkdtempSync(join(tmpdir(), 'pcloud-serve-flags-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

function serve(args: string[]) {
  const res = spawnSync(process.execPath, [CLI, 'serve', '--no-image', '--listen', '127.0.0.1:0', ...args], {
    env: { ...process.env, PCLOUD_LAMBDA_LISTEN: '127.0.0.1:18705' }, encoding: 'utf8', timeout: 60_000,
  });
  return { status: res.status, stderr: res.stderr };
}

describe.skipIf(FAST_TIER)('pcloud serve flags', () => {
  it('a --metrics-listen that is no HOST:PORT: one line, exit 1, the data dir not even made', () => {
    const dir = join(base, 'd1');
    for (const bad of ['9773', 'localhost:http', '127.0.0.1:70000']) {
      expect(serve(['--data', dir, '--metrics-listen', bad])).toEqual({ status: 1, stderr: `pcloud: invalid --metrics-listen ${bad}: expected HOST:PORT, or off\n` });
    }
    expect(existsSync(dir)).toBe(false);
  });

  it('an --access-log it cannot write: one line, exit 1, before the cloud is opened', () => {
    const dir = join(base, 'd2');
    const notADir = join(base, 'file');
    writeFileSync(notADir, '');
    const target = join(notADir, 'access.log');
    const res = serve(['--data', dir, '--access-log', target]);
    expect(res.status).toBe(1);
    // (mkdir -p says EEXIST of a path through a file.)
    expect(res.stderr.replace(/\((ENOTDIR|EEXIST)\)/, '(CODE)')).toBe(`pcloud: cannot write the access log ${target} (CODE): give --access-log a file pcloud can write, - for stdout, or off\n`);
    expect(readdirSync(dir)).toEqual(['lock']);
  });
});
