/**
 * What terminated instances left on the host, looked for where pcloud puts each thing: the unit (its directory and
 * its cgroups, with any process in them), the instance's network namespace and its veth port in the VPC router, the
 * root disk in the pool. An empty list is "terminated cleanly".
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../src/host/exec.js';
import { instanceNs, nsPath, portName } from '../src/host/network.js';
import { cgroupTreePids } from '../src/host/units/cgroup-tree.js';
import { INSTANCE_UNIT, unitCgroupPath } from './cost.js';

const HIERARCHIES = ['', 'systemd', 'unified', 'memory', 'pids', 'cpu', 'devices'].map((h) => join('/sys/fs/cgroup', h));

/** What is left of the instances; looked at again for up to `graceMs` while anything is (a removal finishing). */
export async function leftovers(dataDir: string, ids: string[], graceMs = 10_000): Promise<string[]> {
  const end = performance.now() + graceMs;
  for (;;) {
    const found = await lookOnce(dataDir, ids);
    if (!found.length || performance.now() > end) return found;
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function lookOnce(dataDir: string, ids: string[]): Promise<string[]> {
  const found: string[] = [];
  const disks = new Set(readdirSync(join(dataDir, 'pool', 'instances')));
  // The VPC routers' links, once per router.
  const routers = readdirSync('/run/netns').filter((n) => n.startsWith('pcloud-vpc-'));
  const links = new Set<string>();
  for (const ns of routers) {
    const r = await run('ip', ['-n', ns, '-o', 'link', 'show'], { reject: false });
    for (const m of String(r.stdout).matchAll(/^\d+: ([^:@]+)/gm)) links.add(m[1]!);
  }
  for (const id of ids) {
    const unit = INSTANCE_UNIT(id);
    if (existsSync(join(dataDir, 'run', 'units', unit))) found.push(`${id}: unit ${unit} (its directory)`);
    const cg = unitCgroupPath(dataDir, unit);
    for (const h of cg ? HIERARCHIES : []) {
      const path = join(h, cg!);
      if (existsSync(path)) found.push(`${id}: cgroup ${path}${cgroupTreePids(path).size ? ` with ${cgroupTreePids(path).size} processes` : ''}`);
    }
    if (existsSync(nsPath(instanceNs(id)))) found.push(`${id}: network namespace ${instanceNs(id)}`);
    if (links.has(portName(id))) found.push(`${id}: veth ${portName(id)} in its VPC router`);
    for (const d of disks) if (d === id || d.startsWith(`${id}.`)) found.push(`${id}: disk ${d}`);
  }
  return found;
}
