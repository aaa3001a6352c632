/**
 * A Cloud over the fake host for domain tests: a public test image registered, started, and a `launch` that runs one
 * instance and waits until it runs. Close each with closeDomainClouds() (afterEach).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cloud } from '../../src/cloud/index.js';
import type { CloudConfig } from '../../src/cloud/config.js';
import { newId } from '../../src/cloud/ids.js';
import { SYSTEM_ACCOUNT } from '../../src/cloud/images.js';
import type { Instance } from '../../src/cloud/instances/index.js';
import { images } from '../../src/db/schema.js';
import { fakeHost } from './fake-host.js';
import { waitFor } from './wait.js';

export const ACCOUNT = '111111111111';
const open: Cloud[] = [];

export async function domainCloud(config: Partial<CloudConfig> = {}) {
  const fake = await fakeHost();
  const dataDir = await mkdtemp(join(tmpdir(), 'pcloud-domain-'));
  const cloud = await Cloud.open({ dataDir, host: fake.host, config: { terminatedTtlMs: 3_600_000, ...config } });
  open.push(cloud);
  const imageId = newId('ami');
  await cloud.db.insert(images).values({
    id: imageId, ownerId: SYSTEM_ACCOUNT, name: 'debian-12', description: 'test image', architecture: 'x86_64',
    platform: 'linux', bootMode: 'legacy-bios', state: 'available', isPublic: true, rootPath: await fake.pool.createImageRoot(imageId),
    sizeBytes: 1 << 30, source: 'test', createdAt: Date.now(),
  });
  await cloud.start();
  /** One instance of the account, running. */
  const launch = async (accountId = ACCOUNT): Promise<Instance> => {
    const [inst] = (await cloud.instances.run(accountId, {
      imageId, minCount: 1, maxCount: 1, securityGroupIds: [], securityGroups: [], tagSpecifications: [], metadataOptions: {},
        })).instances;
    const id = inst!.id;
    await waitFor('running', async () => (await cloud.instances.row(id))?.state === 'running');
    return (await cloud.instances.row(id))!;
  };
  return { cloud, fake, imageId, launch };
}

export async function closeDomainClouds(): Promise<void> {
  for (const c of open.splice(0)) await c.close();
}
