/**
 * Where systemd puts an instance's unit, read for real: inside the systemd test host (a node of its own name, test/host/
 * node.ts), the systemd unit manager starts `pcloud-instance@i-…` (an instantiated name: systemd places it in its
 * template's slice) holding memory and burning CPU, and host/cgroups.ts reads its CPU time there, and its memory and
 * limit where the node's systemd has the memory controller: on a cgroup v2 host it does; on a hybrid one (as this
 * machine) nspawn gives the node the v1 controllers read-only, so systemd there keeps no memory for its units, and
 * none is read (never made up).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { realpathSync } from 'node:fs';
import { bootNode, ROOT, type Node } from './node.js';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const modules = realpathSync(join(ROOT, 'node_modules'));
let node: Node;

beforeAll(async () => {
  node = await bootNode({ name: 'pcloud-node-cgroups', binds: [[ROOT, '/project'], ...(modules === join(ROOT, 'node_modules') ? [] : [[modules, modules] as [string, string]])] });
}, 900_000);
afterAll(async () => { await node?.stop(); });

describe('an instance unit\'s cgroup under systemd', () => {
  it('is found and read: CPU time, memory held and its limit', async () => {
    const script = `
      import { SystemdUnitManager } from '/project/dist/src/host/units/systemd.js';
      import { cpuPercent, unitCgroupPath, unitCgroups } from '/project/dist/src/host/cgroups.js';
      const dataDir = '/var/lib/pcloud-cgroups-probe';
      const m = new SystemdUnitManager(dataDir);
      await m.init(['pcloud-']);
      const name = 'pcloud-instance@i-0123456789abcdef0';
      const hold = 'import time\\nx = bytearray(96 * 1024 * 1024)\\nt = time.time()\\nwhile time.time() - t < 8: pass\\ntime.sleep(120)';
      await m.start({ name, description: 'cgroup probe', type: 'simple', exec: ['/usr/bin/python3', '-c', hold], startTimeoutSec: 10, stopTimeoutSec: 5,
        limits: { memoryMaxBytes: 256 * 1024 * 1024, cpuQuotaPercent: 100 } });
      const cgroups = unitCgroups(m, dataDir + '/run');
      let first;
      for (let i = 0; i < 100; i++) {
        first = await cgroups.usage(name);
        if ((first?.cpuUsec ?? 0) > 500_000) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 500));
      const second = await cgroups.usage(name);
      const { existsSync } = await import('node:fs');
      const { execFileSync } = await import('node:child_process');
      const memory = existsSync('/sys/fs/cgroup/cgroup.controllers') || !/ on \\/sys\\/fs\\/cgroup\\/memory type cgroup \\(ro,/.test(execFileSync('mount').toString());
      console.log(JSON.stringify({ path: unitCgroupPath(m.kind, dataDir + '/run', name), first, second, cpu: cpuPercent(first, second), memory }));
      await m.stop(name);
      await m.remove(name);
      console.log(JSON.stringify({ after: (await cgroups.usage(name)) ?? null }));
      m.close();`;
    const res = await node.exec(['/usr/local/bin/node', '--input-type=module', '-e', script], { cwd: '/project', env: { PATH } });
    expect(res.code, res.out).toBe(0);
    const [read, after] = res.out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const { path, first, second, cpu, memory } = read as { path: string; first: Record<string, number>; second: Record<string, number>; cpu: number; memory: boolean };
    expect(path).toBe('system.slice/system-pcloud\\x2dinstance.slice/pcloud-instance@i-0123456789abcdef0.service');
    expect(first.cpuUsec, res.out).toBeGreaterThan(500_000);
    expect(second.cpuUsec).toBeGreaterThan(first.cpuUsec!);
    // Still burning between the two readings.
    expect(cpu).toBeGreaterThan(0);
    if (memory) {
      expect(first.memoryBytes, res.out).toBeGreaterThan(96 * 1024 * 1024);
      expect(first.memoryMaxBytes).toBe(256 * 1024 * 1024);
    } else {
      expect(first.memoryBytes).toBeUndefined();
      expect(first.memoryMaxBytes).toBeUndefined();
    }
    // Once the unit is gone, so is its cgroup: no reading.
    expect(after).toEqual({ after: null });
  }, 120_000);
});
