/**
 * Each VPC's VXLAN network identifier (vpcs.vni): the number that joins its routers on several hosts (host/vxlan.ts).
 * Given at CreateVpc and to the default VPC; a VPC made before the column (its vni null) gets one the first time its
 * routers are joined (vniOf). Unique (an index), 1..16777215, never changed while the VPC exists; a deleted VPC's
 * number may go to a later one.
 */
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db/index.js';
import { vpcs } from '../db/tables.js';
import { CloudError } from './errors.js';
import { write } from '../db/store.js';

/** VXLAN's 24 bits (0 is not used). */
export const MAX_VNI = 0xffffff;

type Reader = Pick<Db, 'select'>;

/**
 * A VNI no VPC holds, read inside the caller's transaction (which inserts or sets it): the next past the highest, or
 * once the top is reached, the lowest gap.
 */
export async function freeVni(tx: Reader): Promise<number> {
  const top = (await tx.select({ n: sql<number | null>`max(${vpcs.vni})`.mapWith(Number) }).from(vpcs).limit(1))[0]?.n ?? 0;
  if (top < MAX_VNI) return top + 1;
  // The lowest number whose successor is free (1 when 1 itself is free).
  const first = (await tx.select({ n: sql<number | null>`min(${vpcs.vni})`.mapWith(Number) }).from(vpcs).limit(1))[0]?.n ?? 1;
  if (first > 1) return 1;
  const gap = (await tx.select({ n: sql<number | null>`min(${vpcs.vni}) + 1`.mapWith(Number) }).from(vpcs)
    .where(sql`${vpcs.vni} is not null and ${vpcs.vni} < ${MAX_VNI} and not exists (select 1 from ${vpcs} as v2 where v2.vni = ${vpcs.vni} + 1)`).limit(1))[0]?.n;
  if (gap == null) throw new CloudError('VpcLimitExceeded', 'Every VXLAN network identifier is taken: delete a VPC you no longer need.');
  return gap;
}

/** The VPC's VNI, given now if it had none (a VPC made before VNIs); undefined for a VPC that is gone. */
export async function vniOf(db: Db, vpcId: string): Promise<number | undefined> {
  return await write(db, async (tx) => {
    const row = (await tx.select({ vni: vpcs.vni }).from(vpcs).where(eq(vpcs.id, vpcId)).limit(1))[0];
    if (!row) return undefined;
    if (row.vni != null) return row.vni;
    const vni = await freeVni(tx);
    await tx.update(vpcs).set({ vni }).where(eq(vpcs.id, vpcId));
    return vni;
  });
}

