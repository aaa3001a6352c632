/**
 * Launches on a joined host whose pool lacks the image (issue 17): a server started with PCLOUD_CONTROL_URL and
 * PCLOUD_HOST_KEY, on the control plane's database (its SQLite file, shared), its pool a real btrfs loop pool, its
 * other drivers the fake host's. The default image is fetched at its start without a launch; two instances of
 * another image launched at once fetch it once, and both fork this host's copy (a real snapshot).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Cloud } from '../../src/cloud/index.js';
import { newId } from '../../src/cloud/ids.js';
import { SYSTEM_ACCOUNT } from '../../src/cloud/images.js';
import { images } from '../../src/db/tables.js';
import { hostConfigFromEnv } from '../../src/host/config.js';
import { recordCommands, type CommandRecord } from '../../src/host/exec.js';
import { startApi, type TestApi } from '../support/api.js';
import { fakeHost } from '../support/fake-host.js';
import { hostKey, loopPool, MARKER, writeTestImage } from '../support/host-images.js';
import { FAST_TIER } from '../support/tier.js';
import { waitFor } from '../support/wait.js';

const skip = FAST_TIER || process.getuid?.() !== 0;
const ACCOUNT = '111111111111';

let api: TestApi;
let joined: Cloud;
let loop: Awaited<ReturnType<typeof loopPool>>;
const commands: CommandRecord[] = [];
let stopRecording: () => void = () => undefined;

beforeAll(async () => {
  if (skip) return;
  api = await startApi();
  await writeTestImage(api.pool, api.imageId);
  loop = await loopPool();
  stopRecording = recordCommands(commands);
  const fake = await fakeHost();
  // Another machine, roomier than the control plane's: placement puts new instances here.
  fake.machine.offer = { ...fake.machine.offer, hostname: 'host-b', vcpus: 64, memoryMiB: 262_144 };
  await symlink(join(api.cloud.dataDir, 'pcloud.db'), join(loop.dataDir, 'pcloud.db'));
  const config = { ...hostConfigFromEnv({}), controlUrl: api.endpoint, hostKey: await hostKey(api.cloud.db, 'host-b') };
  joined = await Cloud.open({ dataDir: loop.dataDir, host: { ...fake.host, pool: loop.pool, config }, config: { terminatedTtlMs: 3_600_000 } });
  await joined.start();
}, 60_000);
afterAll(async () => {
  if (skip) return;
  stopRecording();
  await joined?.close();
  await api.close();
  await loop.remove();
});

/** The tar runs that unpacked an image's root on this host (one per fetch). */
const unpacks = (imageId: string) => commands.filter((c) => c.file === 'tar' && c.args.includes('-x') && c.args.includes(loop.pool.imagePath(`.fetch-${imageId}`)) && c.args.at(-1) === 'root');

describe.skipIf(skip)('launches on a joined host that lacks the image', () => {
  it('finds the default image fetched at the start, before any launch', async () => {
    await waitFor('debian-12 fetched', () => existsSync(join(loop.pool.imagePath(api.imageId), MARKER)));
    expect(unpacks(api.imageId)).toHaveLength(1);
  });

  it('fetch the image once for two launches at once, and fork this host\'s copy', async () => {
    const id = newId('ami');
    await writeTestImage(api.pool, id);
    await api.cloud.db.insert(images).values({
      id, ownerId: SYSTEM_ACCOUNT, name: 'another', architecture: 'x86_64', state: 'available', source: 'test', createdAt: Date.now(),
      rootPath: '/var/lib/pcloud/pool/images/not-this-host', // the control plane's path: not where this host keeps it
    });
    const run = await joined.instances.run(ACCOUNT, {
      imageId: id, minCount: 2, maxCount: 2, securityGroupIds: [], securityGroups: [], tagSpecifications: [], metadataOptions: {},
    });
    const host = joined.hosts.localHostId();
    expect(run.instances.map((i) => i.hostId)).toEqual([host, host]);
    for (const inst of run.instances) {
      await waitFor(`${inst.id} running`, async () => (await joined.instances.row(inst.id))?.state === 'running');
      expect(readFileSync(join(loop.pool.diskPath(inst.id), MARKER), 'utf8')).toBe(`image ${id}\n`);
    }
    expect(unpacks(id)).toHaveLength(1);
    const forks = commands.filter((c) => c.file === 'btrfs' && c.args.includes('snapshot') && c.args.includes(loop.pool.imagePath(id)));
    expect(forks).toHaveLength(2);
  });
});
