/**
 * A unit's closed device policy: rendered as systemd's DevicePolicy=/DeviceAllow= (checked by systemd-analyze verify),
 * resolved into cgroup v1 devices rules as systemd resolves DeviceAllow= (paths by their node, classes by
 * /proc/devices), and enforced by a real direct-manager supervisor (compiled: run `npm run build` first): a process of
 * the unit cannot open or create a host block device, while the pseudo devices still work.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerUnit } from '../../src/host/nspawn.js';
import { renderUnitFile, unitProperties } from '../../src/host/units/render.js';
import { CLOSED_BASELINE, NSPAWN_DEVICES, cgroupV1Rules, deviceAllowValue, devicePolicySupport, majorsNamed, type DeviceHost } from '../../src/host/units/devices.js';
import { DirectUnitManager } from '../../src/host/units/direct.js';
import { unitCgroup } from '../../src/host/units/proc.js';
import { isFinal, type UnitSpec } from '../../src/host/units/types.js';
import { HOSTILE, NUL } from '../support/hostile.js';
import { FAST_TIER } from '../support/tier.js';
import { waitFor } from '../support/wait.js';

const container = containerUnit({
  instanceId: 'i-0123456789abcdef0', rootDir: '/var/lib/pcloud/pool/instances/i-0123456789abcdef0', hostname: 'ip-172-31-0-4',
  vcpus: 1, memoryMiB: 512, register: false, readyTimeoutSec: 60, runDir: '/var/lib/pcloud/run', guestProtocol: false,
});

const PROC_DEVICES = `Character devices:
  1 mem
  5 /dev/tty
 10 misc
136 pts
137 pts

Block devices:
  7 loop
136 pts
259 blkext
`;

const fakeHost = (nodes: Record<string, { type: 'c' | 'b'; major: number; minor: number }>): DeviceHost => ({
  node: (p) => (Object.hasOwn(nodes, p) ? nodes[p] : undefined),
  procDevices: () => PROC_DEVICES,
});

describe('a container unit under systemd', () => {
  it('has a closed device policy: /dev/net/tun and ptys as nspawn asks, never the host loop devices', () => {
    expect(container.devices).toEqual(NSPAWN_DEVICES);
    const service = unitProperties(container).service;
    expect(service.filter(([k]) => k === 'DevicePolicy')).toEqual([['DevicePolicy', 'closed']]);
    expect(service.filter(([k]) => k === 'DeviceAllow')).toEqual([['DeviceAllow', '/dev/net/tun rwm'], ['DeviceAllow', 'char-pts rw']]);
    const text = renderUnitFile(container);
    expect(text).toMatch(/^DevicePolicy=closed$/m);
    expect(text).toMatch(/^DeviceAllow=\/dev\/net\/tun rwm$/m);
    expect(text).toMatch(/^DeviceAllow=char-pts rw$/m);
    expect(text).not.toMatch(/loop|blkext|mapper/);
  });

  it.skipIf(FAST_TIER)('passes systemd-analyze verify with its device lines, and a unit without a policy has none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcloud-devices-'));
    try {
      const file = join(dir, 'pcloud-instance@i-0123456789abcdef0.service');
      writeFileSync(file, renderUnitFile(container));
      const res = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
      expect(res.stderr.split('\n').filter((l) => l.includes('pcloud-instance'))).toEqual([]);
      expect(res.status).toBe(0);
      // The check can fail: a device access systemd does not know is reported.
      writeFileSync(file, renderUnitFile(container).replace('DeviceAllow=char-pts rw', 'DeviceAllow=char-pts rwx'));
      const bad = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
      expect(bad.stderr).toMatch(/DeviceAllow|rwx/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const { devices: _, ...plain } = container;
    expect(renderUnitFile(plain)).not.toMatch(/^Device/m);
  });

  it('refuses a device entry that is not a node path or class with r/w/m access (hostile values never reach a unit file)', () => {
    for (const v of [...Object.values(HOSTILE), NUL, 'dev/null', 'char-', 'char-pts rw\nDeviceAllow=block-loop']) {
      expect(() => renderUnitFile({ ...container, devices: { policy: 'closed', allow: [{ node: v, access: 'rw' }] } })).toThrow(/invalid device node/);
    }
    for (const access of ['', 'x', 'rwx', 'wr', 'rr', 'rw\n', 'rw m', HOSTILE.bigHostile!]) {
      expect(() => deviceAllowValue({ node: '/dev/null', access })).toThrow(/invalid device access/);
    }
    expect(deviceAllowValue({ node: 'block-device-mapper', access: 'm' })).toBe('block-device-mapper m');
  });
});

describe('cgroup v1 rules for the direct manager', () => {
  it('deny everything, then allow the closed baseline and the entries, resolved as systemd resolves them', () => {
    const host = fakeHost({
      '/dev/null': { type: 'c', major: 1, minor: 3 },
      '/dev/zero': { type: 'c', major: 1, minor: 5 },
      '/dev/ptmx': { type: 'c', major: 5, minor: 2 },
      '/dev/net/tun': { type: 'c', major: 10, minor: 200 },
    });
    const rules = cgroupV1Rules(NSPAWN_DEVICES, host);
    expect(rules.deny).toBe('a');
    // Absent nodes (here /dev/full, systemd's inaccessible nodes) are left out; every pts major is allowed, once.
    expect(rules.allow).toEqual(['c 1:3 rwm', 'c 1:5 rwm', 'c 5:2 rwm', 'c 136:* rw', 'c 137:* rw', 'c 10:200 rwm']);
    expect(rules.allow.some((r) => r.startsWith('b ') || r.startsWith('a'))).toBe(false);
  });

  it('reads the majors of a class from its own section of /proc/devices only', () => {
    expect(majorsNamed(PROC_DEVICES, 'c', 'pts')).toEqual([136, 137]);
    expect(majorsNamed(PROC_DEVICES, 'b', 'loop')).toEqual([7]);
    expect(majorsNamed(PROC_DEVICES, 'c', 'loop')).toEqual([]);
    expect(majorsNamed(PROC_DEVICES, 'c', '/dev/tty')).toEqual([5]);
  });

  it('resolves the real host: /dev/null is c 1:3, the ptys are allowed read/write', () => {
    const rules = cgroupV1Rules({ policy: 'closed', allow: [] });
    expect(rules.allow).toContain('c 1:3 rwm');
    expect(rules.allow).toContain('c 1:9 rwm');
    expect(rules.allow).toContain('c 136:* rw');
    expect(CLOSED_BASELINE.map((a) => a.node)).toEqual(expect.arrayContaining(['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/ptmx']));
  });
});

// ---- the supervisor, for real ----

const v1 = devicePolicySupport().enforced;
const base = mkdtempSync(join(tmpdir(), 'pcloud-devices-units-'));
const managers: DirectUnitManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) {
    for (const u of await m.list('pcloud-t')) await m.remove(u.name);
    m.close();
  }
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** A host block device root could open: the first loop device (its contents are never read: `head -c 0`). */
const LOOP = '/dev/loop0';

async function runScript(name: string, script: string, devices: UnitSpec['devices']): Promise<{ out: string; cgroup: string }> {
  const m = new DirectUnitManager(join(base, name));
  managers.push(m);
  const out = join(base, `${name}.out`);
  await m.start({ name, description: 'test', exec: ['sh', '-c', `exec > ${out} 2>&1; ${script}`], type: 'simple', startTimeoutSec: 5, stopTimeoutSec: 5, devices });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const st = await m.status(name);
    if (st && isFinal(st.state)) break;
    if (Date.now() > deadline) throw new Error(`${name} did not end`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { out: readFileSync(out, 'utf8'), cgroup: join('/sys/fs/cgroup/devices', unitCgroup(join(base, name, 'units', name), name)) };
}

const PROBE = [
  `head -c 0 ${LOOP} && echo loop-open-ok`,
  `mknod ${base}/$$.blk b 7 0 && echo mknod-ok`,
  'head -c 4 /dev/zero | wc -c',
  'head -c 4 /dev/urandom | wc -c',
  'echo x > /dev/null && echo null-ok',
  'grep devices /proc/self/cgroup',
].join('; ');

describe.skipIf(FAST_TIER || !v1 || !existsSync(LOOP) || !statSync(LOOP).isBlockDevice())('a direct unit with a closed device policy (cgroup v1)', () => {
  it('cannot open or create a host block device; the pseudo devices work; its cgroup is gone after it ends', async () => {
    const { out, cgroup } = await runScript('pcloud-t-devclosed', PROBE, NSPAWN_DEVICES);
    expect(out).toMatch(/loop0'.*: Operation not permitted/);
    expect(out).not.toContain('loop-open-ok');
    expect(out).toMatch(/mknod: .*Operation not permitted/);
    expect(out).not.toContain('mknod-ok');
    expect(out.match(/^4$/gm)).toHaveLength(2);
    expect(out).toContain('null-ok');
    expect(out).toContain(`devices:/${unitCgroup(join(base, 'pcloud-t-devclosed', 'units', 'pcloud-t-devclosed'), 'pcloud-t-devclosed')}`);
    // The supervisor removes the cgroup just after it reports the end: wait for it (a loaded host is slower).
    await waitFor(`${cgroup} removed`, () => !existsSync(cgroup), 10_000);
  });

  it('a unit whose policy cannot be applied fails to start, and its main process never runs', async () => {
    const m = new DirectUnitManager(join(base, 'bad'));
    managers.push(m);
    const marker = join(base, 'bad.ran');
    await m.start({
      name: 'pcloud-t-devbad', description: 'test', exec: ['touch', marker], type: 'simple', startTimeoutSec: 5, stopTimeoutSec: 5,
      devices: { policy: 'closed', allow: [{ node: '/dev/null', access: 'x' }] },
    });
    const deadline = Date.now() + 20_000;
    let st = await m.status('pcloud-t-devbad');
    while (!st || !isFinal(st.state)) {
      if (Date.now() > deadline) throw new Error('pcloud-t-devbad did not end');
      await new Promise((r) => setTimeout(r, 20));
      st = await m.status('pcloud-t-devbad');
    }
    expect(st).toMatchObject({ state: 'failed', result: 'start-failed', statusText: "the unit's device policy could not be applied" });
    expect(existsSync(marker)).toBe(false);
  });

  it('the same unit without a policy opens it (the check can fail)', async () => {
    const { out } = await runScript('pcloud-t-devopen', PROBE, undefined);
    expect(out).toContain('loop-open-ok');
    expect(out).toContain('mknod-ok');
    expect(out).toContain('devices:/\n');
  });
});
