/**
 * A joined host fetching an image it lacks (issue 17), for real: the control plane in process (its API over the fake
 * host, real tar over the test image's files), the host's own pool a real btrfs loop pool in a data dir of its own
 * (root only). The image arrives whole and sealed, once however many ask; what does not match the hash the database
 * records, what holds anything but VM files under vm/, and what the control plane refuses leave nothing behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { ImageFetch, type ImageFiles } from '../../src/cloud/image-fetch.js';
import { newId } from '../../src/cloud/ids.js';
import { Images, SYSTEM_ACCOUNT } from '../../src/cloud/images.js';
import { instanceTypes } from '../../src/cloud/catalog.js';
import { Vms } from '../../src/cloud/vms.js';
import type { Host } from '../../src/host/index.js';
import { thrown } from '../support/thrown.js';
import { Tags } from '../../src/cloud/tags.js';
import { images, instances } from '../../src/db/tables.js';
import { controlPlaneImages, type ImageSource } from '../../src/host/image-source.js';
import type { StoragePool } from '../../src/host/storage.js';
import { startApi, type TestApi } from '../support/api.js';
import { hostKey, loopPool, MARKER, writeTestImage } from '../support/host-images.js';
import { FAST_TIER } from '../support/tier.js';

const skip = FAST_TIER || process.getuid?.() !== 0;

let api: TestApi;
let pool: StoragePool;
let remove: () => Promise<void>;
let source: ImageSource;
/** The images asked of the control plane. */
const asked: string[] = [];

/** A new image on the control plane, its files written, its row registered. */
async function controlPlaneImage(opts: { vm?: boolean } = {}): Promise<ImageFiles> {
  const id = newId('ami');
  await writeTestImage(api.pool, id, opts);
  const rootPath = api.pool.imagePath(id);
  await api.cloud.db.insert(images).values({
    id, ownerId: SYSTEM_ACCOUNT, name: `test-${id}`, architecture: 'x86_64', state: 'available', rootPath, source: 'test', createdAt: Date.now(),
  });
  return { id, rootPath };
}

/** An instance of the image on the host, in the state. */
async function instanceOf(imageId: string, hostId: string, state: string): Promise<void> {
  const id = newId('i');
  await api.cloud.db.insert(instances).values({
    id, accountId: '111111111111', reservationId: newId('r'), launchIndex: 0, imageId, instanceType: 't3.micro', runtime: 'container',
    state, launchTime: Date.now(), subnetId: 'subnet-0', vpcId: 'vpc-0', availabilityZone: 'us-east-1a', privateIp: '10.0.0.9',
    macAddress: '02:00:00:00:00:09', networkInterfaceId: newId('eni'), securityGroupIds: [], rootVolumeId: newId('vol'),
    rootVolumeSizeGiB: 8, updatedAt: Date.now(), hostId,
    attributes: {
      sourceDestCheck: true, disableApiTermination: false, disableApiStop: false, instanceInitiatedShutdownBehavior: 'stop',
      ebsOptimized: false, monitoring: false, hibernation: false, cpuCredits: 'unlimited',
      metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 2, httpEndpoint: 'enabled', httpProtocolIpv6: 'disabled', instanceMetadataTags: 'disabled' },
    },
  });
}

/** What the host's pool holds of images (names in pool/images). */
const poolImages = () => readdirSync(join(pool.root, 'images')).sort();

beforeAll(async () => {
  if (skip) return;
  api = await startApi();
  // The control plane's default image (startApi's debian-12) gets real files too.
  await writeTestImage(api.pool, api.imageId);
  ({ pool, remove } = await loopPool());
  const real = controlPlaneImages(api.endpoint, await hostKey(api.cloud.db, 'host-b'));
  source = { open: (id) => { asked.push(id); return real.open(id); } };
}, 60_000);
afterAll(async () => {
  if (skip) return;
  await api.close();
  await remove();
});

describe.skipIf(skip)('a joined host fetching an image it lacks', () => {
  it('unpacks it whole into its own pool, sealed, its VM files beside; the second ask only finds it', async () => {
    const image = await controlPlaneImage();
    const fetch = new ImageFetch(api.cloud.db, pool, source);
    const root = await fetch.local(image);
    expect(root).toBe(pool.imagePath(image.id));
    expect(readFileSync(join(root, MARKER), 'utf8')).toBe(`image ${image.id}\n`);
    expect(statSync(join(root, 'usr/bin/sudo')).mode & 0o7777).toBe(0o4755);
    expect(statSync(join(root, 'usr/bin/sudoedit')).ino).toBe(statSync(join(root, 'usr/bin/sudo')).ino);
    expect(readlinkSync(join(root, 'etc/host-shadow'))).toBe('/etc/shadow');
    expect(readlinkSync(join(root, 'etc/sudo'))).toBe('../usr/bin/sudo');
    expect(execFileSync('btrfs', ['property', 'get', '-ts', root, 'ro']).toString().trim()).toBe('ro=true');
    const vm = pool.vmDir(image.id);
    expect(readFileSync(join(vm, 'vmlinux'), 'utf8')).toBe(`kernel of ${image.id}\n`);
    expect(statSync(join(vm, 'disk.raw')).size).toBe(1 << 30);
    expect(statSync(join(vm, 'disk.raw')).blocks * 512).toBeLessThan(1 << 20); // still sparse
    expect(poolImages()).toEqual([image.id, `${image.id}.vm`]);

    expect(await new ImageFetch(api.cloud.db, pool, source).local(image)).toBe(root);
    expect(asked.filter((id) => id === image.id)).toEqual([image.id]);
  });

  it('fetches once for launches that ask at once', async () => {
    const image = await controlPlaneImage({ vm: false });
    const fetch = new ImageFetch(api.cloud.db, pool, source);
    const roots = await Promise.all([fetch.local(image), fetch.local(image), fetch.local(image)]);
    expect(new Set(roots)).toEqual(new Set([pool.imagePath(image.id)]));
    expect(asked.filter((id) => id === image.id)).toHaveLength(1);
    expect(existsSync(pool.vmDir(image.id))).toBe(false); // no VM files: none made
  });

  it('refuses a tar that does not match the hash the database records, and leaves nothing behind', async () => {
    const image = await controlPlaneImage();
    const before = poolImages();
    const made = await api.cloud.imageExports.export(image.id);
    // A byte changed on its way (here: in the control plane's cached tar), the length the same.
    const fh = await open(made.file, 'r+');
    await fh.write(Buffer.from('X'), 0, 1, 600);
    await fh.close();
    const fetch = new ImageFetch(api.cloud.db, pool, source);
    await expect(fetch.local(image)).rejects.toThrow(/arrived with the sha256 [0-9a-f]{64}, not the [0-9a-f]{64} recorded for it/);
    expect(poolImages()).toEqual(before);

    // A sender naming another hash than the database's (one between the host and its control plane): refused before
    // anything is written.
    const lying: ImageSource = { open: async (id) => ({ ...(await source.open(id)), sha256: 'f'.repeat(64) }) };
    await expect(new ImageFetch(api.cloud.db, pool, lying).local(image)).rejects.toThrow(/sent the image ami-[0-9a-f]+ as f{64}, but the database records [0-9a-f]{64} for it: not taken/);
    expect(poolImages()).toEqual(before);
  });

  /** The control plane's cached tar of a new image with `add` appended (tar args), served as recorded (hash and all). */
  async function hostileImage(add: (dir: string) => string[]): Promise<ImageFiles> {
    const image = await controlPlaneImage({ vm: false });
    const made = await api.cloud.imageExports.export(image.id);
    const dir = join(api.pool.root, `hostile-${image.id}`);
    execFileSync('mkdir', ['-p', join(dir, 'vm')]);
    execFileSync('tar', ['-r', '-f', made.file, ...add(dir)]);
    const sha = execFileSync('sha256sum', [made.file]).toString().split(' ')[0]!;
    execFileSync('mv', [made.file, join(made.file, '..', `${sha}.tar`)]);
    await api.cloud.db.update(images).set({ contentSha256: sha }).where(eq(images.id, image.id));
    return image;
  }

  it('refuses a tar whose vm/ holds anything but VM files, or whose root climbs out of it, and leaves nothing behind', async () => {
    const before = poolImages();
    // vm/ with a link to a host device as the VM's disk.
    const link = await hostileImage((dir) => {
      execFileSync('ln', ['-s', '/dev/vda', join(dir, 'vm/disk.raw')]);
      return ['-C', dir, 'vm/disk.raw'];
    });
    await expect(new ImageFetch(api.cloud.db, pool, source).local(link)).rejects.toThrow(/VM files hold disk\.raw, which is not one of/);
    expect(poolImages()).toEqual(before);
    // A member of root/ whose name climbs out of the pool.
    const climbing = await hostileImage((dir) => {
      execFileSync('sh', ['-c', `echo evil > ${join(dir, 'x')}`]);
      return ['-P', '--transform=s,^x,root/../../../escape,', '-C', dir, 'x'];
    });
    await expect(new ImageFetch(api.cloud.db, pool, source).local(climbing)).rejects.toThrow(/was not imported: .*contains '\.\.'/);
    expect(poolImages()).toEqual(before);
    expect(existsSync(join(pool.root, 'escape')) || existsSync(join(pool.root, '..', 'escape'))).toBe(false);
  });

  it('says what the control plane answered when it refuses, and leaves nothing behind', async () => {
    const image = await controlPlaneImage();
    const before = poolImages();
    const stranger = controlPlaneImages(api.endpoint, `pcloud-host-${'A'.repeat(43)}`);
    await expect(new ImageFetch(api.cloud.db, pool, stranger).local(image)).rejects.toThrow(/answered 403 for the image ami-[0-9a-f]+: .*AuthFailure/);
    const gone = { id: newId('ami'), rootPath: '/elsewhere' };
    await expect(new ImageFetch(api.cloud.db, pool, source).local(gone)).rejects.toThrow(/answered 404/);
    expect(poolImages()).toEqual(before);
  });

  it('leaves what a crash cut short to the next start\'s reconcile, which removes it', async () => {
    const image = await controlPlaneImage();
    const before = poolImages();
    // A fetch as a killed server left it: its root half-unpacked, its stage with the tar, marked with a pid now gone.
    const root = await pool.createImageRoot(`.fetch-${image.id}`);
    await writeFile(join(root, 'half'), '');
    await mkdir(pool.vmDir(`.fetch-${image.id}`));
    await writeFile(join(pool.vmDir(`.fetch-${image.id}`), 'image.tar'), 'part of a tar');
    const gone = spawnSync('true').pid;
    await writeFile(`${root}.owner`, String(gone));
    expect(poolImages()).toEqual([...before, `.fetch-${image.id}`, `.fetch-${image.id}.owner`, `.fetch-${image.id}.vm`].sort());
    const reconciled = new Images(api.cloud.db, pool, { recipes: '/nonexistent', cache: '/nonexistent' }, new Tags(api.cloud.db));
    expect(await reconciled.reconcile()).toBe(1);
    expect(poolImages()).toEqual(before);
  });

  it('fetches ahead the default image and the images of its own instances that may launch again', async () => {
    const hostId = newId('h');
    const [stopped, terminated, elsewhere] = [await controlPlaneImage(), await controlPlaneImage(), await controlPlaneImage()];
    await instanceOf(stopped.id, hostId, 'stopped');
    await instanceOf(terminated.id, hostId, 'terminated');
    await instanceOf(elsewhere.id, newId('h'), 'running');
    const fetch = new ImageFetch(api.cloud.db, pool, source);
    expect(await fetch.prefetch(hostId)).toBe(2); // debian-12 (startApi's) and the stopped instance's
    for (const id of [api.imageId, stopped.id]) expect(existsSync(join(pool.imagePath(id), MARKER))).toBe(true);
    for (const id of [terminated.id, elsewhere.id]) expect(existsSync(pool.imagePath(id))).toBe(false);
    expect(await fetch.prefetch(hostId)).toBe(0);
  });

  it('judges an image it has not fetched yet by what the database says, its kernel once it has its files', async () => {
    const fetch = new ImageFetch(api.cloud.db, pool, source);
    const here = new Images(api.cloud.db, pool, { recipes: '/nonexistent', cache: '/nonexistent' }, new Tags(api.cloud.db), fetch);
    const vms = new Vms({ vms: {} } as unknown as Host, api.cloud.config, here);
    const [withKernel, containerOnly] = [await controlPlaneImage(), await controlPlaneImage({ vm: false })];
    const c5 = instanceTypes.get('c5.large')!;
    const image = async (id: string) => await here.get(id);
    // Not here yet: a c5 of either is not refused here (the host that boots it has the files).
    expect([vms.runtimeFor(c5, await image(withKernel.id)), vms.runtimeFor(c5, await image(containerOnly.id))]).toEqual(['microvm', 'microvm']);
    for (const i of [withKernel, containerOnly]) await fetch.local(i);
    expect(vms.runtimeFor(c5, await image(withKernel.id))).toBe('microvm');
    const noKernel = await image(containerOnly.id);
    expect(thrown(() => vms.runtimeFor(c5, noKernel))).toMatchObject({ code: 'InvalidParameterCombination' });
  });
});
