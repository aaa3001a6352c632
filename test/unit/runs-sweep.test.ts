/** Sweeping an earlier test run removes what it left outside its data dir: its NFS port's nft table (unless that port is another server's now). */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostFilter, hostFilterTable } from '../../src/host/nfs.js';
import { sweepRun } from '../support/runs.js';

const hasTable = (port: number) => spawnSync('nft', ['list', 'table', 'inet', hostFilterTable(port)]).status === 0;

async function leftRun(port: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'pcloud-swept-'));
  mkdirSync(join(dir, 'run/nfs'), { recursive: true });
  writeFileSync(join(dir, 'run/nfs/ganesha.conf'), `NFS_CORE_PARAM {\n  NFS_Port = ${port};\n}\n`);
  expect(spawnSync('nft', ['-f', '-'], { input: hostFilter(port, ['240.0.0.9']) }).status).toBe(0);
  return dir;
}

describe('sweeping a run', () => {
  it("removes its NFS port's filter table, unless the port is served again", async () => {
    const srv = createServer();
    const port = await new Promise<number>((r) => srv.listen(0, '0.0.0.0', () => r((srv.address() as { port: number }).port)));
    try {
      // Held by a listener (another server's ganesha on that port now): its table stays.
      const held = await leftRun(port);
      await sweepRun(held);
      expect(hasTable(port)).toBe(true);
      await new Promise((r) => srv.close(r));
      const free = await leftRun(port);
      await sweepRun(free);
      expect(hasTable(port)).toBe(false);
      rmSync(held, { recursive: true, force: true });
    } finally {
      spawnSync('nft', ['delete', 'table', 'inet', hostFilterTable(port)]);
    }
  });
});
