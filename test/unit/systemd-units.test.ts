/**
 * What the systemd manager asks of systemd for a host service, on a host without systemd: systemctl and systemd-run are
 * stand-ins on PATH that record their argv (the node test, test/host/node.test.ts, runs the real ones).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SystemdUnitManager } from '../../src/host/units/systemd.js';
import { IscsiTarget } from '../../src/host/iscsi.js';
import { PortInUseError } from '../../src/host/ports.js';
import type { UnitManager } from '../../src/host/units/types.js';
import { FAST_TIER } from '../support/tier.js';

const dir = mkdtempSync(join(tmpdir(), 'pcloud-systemd-units-'));
const calls = join(dir, 'calls');
const path = process.env.PATH;

beforeAll(() => {
  for (const cmd of ['systemctl', 'systemd-run']) {
    writeFileSync(join(dir, cmd), `#!/bin/sh\nprintf '%s\\n' "${cmd} $*" >> ${calls}\n`);
    chmodSync(join(dir, cmd), 0o755);
  }
  process.env.PATH = `${dir}:${path}`;
});
afterAll(() => {
  process.env.PATH = path;
  rmSync(dir, { recursive: true, force: true });
});

describe('the systemd manager', () => {
  const spec = { ...new IscsiTarget({} as UnitManager, { controlPort: 25, port: 13265 }).unit(), name: 'pcloud-t-systemd-iscsi' };

  it.skipIf(FAST_TIER)('passes the restart policy: Restart= and RestartSec= on the service, the start limit as unit properties', async () => {
    const m = new SystemdUnitManager(join(dir, 'data'));
    try {
      await m.start(spec);
      const run = readFileSync(calls, 'utf8').split('\n').find((l) => l.startsWith('systemd-run '))!;
      for (const p of ['Restart=on-failure', 'RestartSec=0.5s', 'StartLimitIntervalSec=30s', 'StartLimitBurst=5']) expect(run).toContain(` -p ${p} `);
      expect(run).toContain('--description=pcloud iSCSI target');
      expect(run).not.toContain('Description=pcloud');
    } finally {
      await m.remove(spec.name);
      m.close();
    }
  });

  it('refuses a host-wide port another program holds, and runs nothing', async () => {
    rmSync(calls, { force: true });
    const held: Server = createServer();
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
    const port = (held.address() as { port: number }).port;
    const m = new SystemdUnitManager(join(dir, 'data'));
    try {
      const err = await m.start({ ...spec, ports: [{ host: '127.0.0.1', port, setting: 'PCLOUD_ISCSI_PORT' }] }).then(() => undefined, (e: Error) => e);
      expect(err).toBeInstanceOf(PortInUseError);
      expect(existsSync(calls) ? readFileSync(calls, 'utf8') : '').not.toContain('systemd-run');
    } finally {
      m.close();
      await new Promise((r) => held.close(r));
    }
  });
});
