/** Each VPC's VNI (vpcs.vni): given at CreateVpc and to the default VPC, unique, in range, stable; lazily to older VPCs. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { configFromEnv } from '../../src/cloud/config.js';
import { Network } from '../../src/cloud/network.js';
import { freeVni, MAX_VNI, vniOf } from '../../src/cloud/vnis.js';
import { openDb } from '../../src/db/index.js';
import { vpcs } from '../../src/db/schema.js';
import { hostConfigFromEnv } from '../../src/host/config.js';

async function network() {
  const db = openDb(join(await mkdtemp(join(tmpdir(), 'pcloud-vni-')), 'pcloud.db'));
  const config = { ...configFromEnv({}), limits: { ...configFromEnv({}).limits, vpcs: 50 } };
  return { db, net: new Network(db, config) };
}

const vniRow = async (db: Awaited<ReturnType<typeof network>>['db'], id: string) => (await db.select({ vni: vpcs.vni }).from(vpcs).where(eq(vpcs.id, id)).limit(1))[0]!.vni;

describe('VPC network identifiers', () => {
  it('every VPC, the default ones included, gets its own, 1..16777215, and keeps it', async () => {
    const { db, net } = await network();
    const made = [await net.createVpc('111111111111', '10.0.0.0/16'), await net.createVpc('111111111111', '10.1.0.0/16'), await net.createVpc('222222222222', '10.0.0.0/16')];
    const all = await db.select({ id: vpcs.id, vni: vpcs.vni }).from(vpcs);
    expect(all).toHaveLength(5); // two default VPCs
    const vnis = all.map((v) => v.vni!);
    expect(new Set(vnis).size).toBe(5);
    for (const v of vnis) expect(v >= 1 && v <= MAX_VNI).toBe(true);
    for (const v of made) expect(await vniOf(db, v.id)).toBe(v.vni);
    expect(await vniOf(db, 'vpc-00000000000000000')).toBeUndefined();
  });

  it('a VPC made before VNIs gets one the first time it is asked, and the same one after', async () => {
    const { db, net } = await network();
    const a = await net.createVpc('111111111111', '10.0.0.0/16');
    const b = await net.createVpc('111111111111', '10.1.0.0/16');
    await db.update(vpcs).set({ vni: null }).where(eq(vpcs.id, a.id));
    const given = (await vniOf(db, a.id))!;
    expect(given).not.toBe(b.vni);
    expect(await vniRow(db, a.id)).toBe(given);
    expect(await vniOf(db, a.id)).toBe(given);
  });

  it('once the highest is taken, the lowest free one; a second VPC cannot hold a taken one', async () => {
    const { db, net } = await network();
    const a = await net.createVpc('111111111111', '10.0.0.0/16'); // the default VPC holds 1, a 2
    await db.update(vpcs).set({ vni: MAX_VNI }).where(eq(vpcs.id, a.id));
    const b = await net.createVpc('111111111111', '10.1.0.0/16');
    expect(b.vni).toBe(2);
    const c = await net.createVpc('111111111111', '10.2.0.0/16');
    expect(c.vni).toBe(3);
    await db.update(vpcs).set({ vni: 5 }).where(eq(vpcs.id, c.id));
    expect(await freeVni(db)).toBe(3);
    await expect(db.update(vpcs).set({ vni: 2 }).where(eq(vpcs.id, c.id))).rejects.toThrow(/UNIQUE/);
  });
});

describe('underlay settings', () => {
  it('PCLOUD_UNDERLAY_ADDRESS and PCLOUD_UNDERLAY_DEVICE are checked, unset by default', () => {
    expect(hostConfigFromEnv({}).underlayAddress).toBeUndefined();
    expect(hostConfigFromEnv({}).underlayDevice).toBeUndefined();
    const c = hostConfigFromEnv({ PCLOUD_UNDERLAY_ADDRESS: '192.168.50.2', PCLOUD_UNDERLAY_DEVICE: 'eth1' });
    expect([c.underlayAddress, c.underlayDevice]).toEqual(['192.168.50.2', 'eth1']);
    for (const bad of ['127.0.0.1', '224.0.0.1', '10.0.0.1\nx', '10.0.0', 'x; rm', '$(id)', '1.2.3.4 dev eth0', 'a'.repeat(100_000)]) {
      expect(() => hostConfigFromEnv({ PCLOUD_UNDERLAY_ADDRESS: bad }), bad.slice(0, 20)).toThrow(/^PCLOUD_UNDERLAY_ADDRESS=.{0,50}: expected a unicast/);
    }
    for (const bad of ['eth 1', 'a/b', 'a:b', 'x'.repeat(16), '{', '%', 'e\0', '"e"', 'e\n']) {
      expect(() => hostConfigFromEnv({ PCLOUD_UNDERLAY_DEVICE: bad }), bad).toThrow(/^PCLOUD_UNDERLAY_DEVICE=.*: expected a network interface name/);
    }
  });
});
