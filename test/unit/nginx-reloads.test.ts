/** The nginx reloads a server asks for, counted for /metrics (src/host/nginx.ts' nginxReloads), with a real nginx. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NginxDriver, nginxReloads, type FunctionRoute } from '../../src/host/nginx.js';
import { freePort } from '../support/real.js';
import { SpawnUnits } from '../support/spawn-units.js';
import { FAST_TIER } from '../support/tier.js';

const OPTIONS = { concurrency: 10 };
const route = (name: string, urlId: string): FunctionRoute => ({ accountId: '111122223333', name, socket: '/run/pcloud-test-none.sock', urlId, urlAuth: 'NONE' });

describe.skipIf(FAST_TIER)('nginx reloads, counted', () => {
  let dir: string;
  let api: Server;
  let units: SpawnUnits;
  let driver: NginxDriver;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pcloud-nginx-reloads-'));
    api = createServer((_req, res) => res.writeHead(204).end()).listen(0, '127.0.0.1');
    await new Promise((r) => api.once('listening', r));
    units = new SpawnUnits();
    driver = new NginxDriver(units, join(dir, 'nginx'), `127.0.0.1:${await freePort()}`, `http://127.0.0.1:${(api.address() as AddressInfo).port}`);
  });
  afterAll(async () => {
    await driver?.stop();
    api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a start is no reload; new routes are one (ok); the same routes none; a reload that fails counts as failed', async () => {
    const at = nginxReloads();
    await driver.start([route('a', 'ab'.repeat(16))], OPTIONS);
    expect(nginxReloads()).toEqual(at);
    await driver.sync([route('a', 'ab'.repeat(16)), route('b', 'cd'.repeat(16))], OPTIONS);
    expect(nginxReloads()).toEqual({ ok: at.ok + 1, failed: at.failed });
    await driver.sync([route('a', 'ab'.repeat(16)), route('b', 'cd'.repeat(16))], OPTIONS);
    expect(nginxReloads()).toEqual({ ok: at.ok + 1, failed: at.failed });
    units.failNextSignal = true;
    await expect(driver.sync([route('c', 'ef'.repeat(16))], OPTIONS)).rejects.toThrow(/cannot signal/);
    expect(nginxReloads()).toEqual({ ok: at.ok + 1, failed: at.failed + 1 });
  });
});
