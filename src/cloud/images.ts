/**
 * Images (AMIs): built from a recipe or imported from a tarball ahead of time, unpacked in the storage pool, then
 * forked per instance. Images registered by the host's operator belong to the system account and are public.
 */
import { and, eq, inArray, or } from 'drizzle-orm';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { constants, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../db/index.js';
import { images } from '../db/tables.js';
import { buildRootfs, buildVmArtifacts, detectDiskFormat, diskUsage, importDiskArtifacts, loadRecipe, removeDeviceNodes, unpackTar, type DiskFormat, type Progress } from '../host/images.js';
import { UnsafeImageError } from '../host/rootfs.js';
import { assertUnshifted } from '../host/storage.js';
import type { HostPool } from '../host/index.js';
import type { ImageFetch } from './image-fetch.js';
import { CloudError, invalidParam } from './errors.js';
import { isId, newId } from './ids.js';
import { filterRows, type Fields, type Filter } from './filters.js';
import type { Tags } from './tags.js';
import { log } from '../log.js';
import { alive } from '../host/units/proc.js';
import { write } from '../db/store.js';

export type Image = typeof images.$inferSelect;

export const SYSTEM_ACCOUNT = '000000000000';

/** What DescribeImages' filters see of an image (filters.ts; its tags beside). */
export const imageFields: Fields<Image> = {
  'image-id': (r) => r.id, name: (r) => r.name, 'owner-id': (r) => r.ownerId, architecture: (r) => r.architecture,
  state: (r) => r.state, platform: (r) => (r.platform === 'windows' ? 'windows' : undefined),
  'is-public': (r) => String(r.isPublic), 'image-type': () => 'machine', 'root-device-type': () => 'ebs',
  'virtualization-type': () => 'hvm', description: (r) => r.description, 'owner-alias': (r) => (r.ownerId === SYSTEM_ACCOUNT ? 'amazon' : undefined),
};

/** A message naming the tenant's own file names, with their control characters escaped (\xNN). */
const printable = (s: string) => s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

/** The characters and length AWS allows in an AMI's name. */
const AMI_NAME = /^[A-Za-z0-9()[\]. /'@_-]{3,128}$/;
const AMI_NAME_RULE = `AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/' and '_'`;

/** RegisterImage's parameters once read at the edge (what it can register here: an EBS root from a snapshot). */
export interface RegisterParams {
  name?: string;
  description?: string;
  architecture?: string;
  rootDeviceName?: string;
  virtualizationType?: string;
  bootMode?: string;
  imageLocation?: string;
  kernelId?: string;
  ramdiskId?: string;
  blockDeviceMappings: { deviceName?: string; snapshotId?: string; volumeSize?: number; noDevice?: boolean; virtualName?: string }[];
}

/** What RegisterImage asks for, checked as AWS checks it: the image's metadata and its root snapshot's id. */
export interface RegisterRequest {
  name: string;
  description: string;
  architecture: 'x86_64' | 'arm64';
  bootMode: 'legacy-bios' | 'uefi';
  snapshotId: string;
  volumeSize?: number;
}

/** RegisterImage's parameters checked as AWS checks them; what this cloud cannot register is refused saying why. */
export function checkRegister(p: RegisterParams): RegisterRequest {
  if (p.imageLocation !== undefined) {
    throw new CloudError('UnsupportedOperation', 'Images are not registered from an S3 manifest (ImageLocation) here: register a snapshot of a root volume (BlockDeviceMapping with Ebs.SnapshotId), or use CreateImage.');
  }
  if (!p.name) throw new CloudError('MissingParameter', 'The request must contain the parameter name');
  if (!AMI_NAME.test(p.name)) throw new CloudError('InvalidAMIName.Malformed', AMI_NAME_RULE);
  const description = p.description ?? '';
  if (description.length > 255) throw invalidParam('The description of an AMI is limited to 255 characters.');
  const architecture = p.architecture ?? 'x86_64';
  if (!['i386', 'x86_64', 'arm64', 'x86_64_mac', 'arm64_mac'].includes(architecture)) {
    throw invalidParam(`Value (${architecture.slice(0, 32)}) for parameter architecture is invalid. Valid values: i386, x86_64, arm64, x86_64_mac, arm64_mac`);
  }
  if (architecture !== 'x86_64' && architecture !== 'arm64') throw new CloudError('UnsupportedOperation', `The architecture '${architecture}' is not supported here: x86_64 or arm64.`);
  const virt = p.virtualizationType ?? 'hvm';
  if (virt !== 'hvm' && virt !== 'paravirtual') throw invalidParam(`Value (${virt.slice(0, 32)}) for parameter virtualizationType is invalid. Valid values: hvm, paravirtual`);
  if (virt === 'paravirtual' || p.kernelId !== undefined || p.ramdiskId !== undefined) {
    throw new CloudError('UnsupportedOperation', 'Paravirtual images (and KernelId, RamdiskId) are not supported: register an hvm image.');
  }
  const bootMode = p.bootMode ?? 'legacy-bios';
  if (!['legacy-bios', 'uefi', 'uefi-preferred'].includes(bootMode)) {
    throw invalidParam(`Value (${bootMode.slice(0, 32)}) for parameter BootMode is invalid. Valid values: legacy-bios, uefi, uefi-preferred`);
  }
  const rootDevice = p.rootDeviceName ?? '/dev/xvda';
  if (!/^\/dev\/(sd[a-z]|xvd[a-z]|nvme\dn\d)\d{0,2}$/.test(rootDevice)) throw invalidParam(`The device name '${rootDevice.slice(0, 32)}' for RootDeviceName is invalid.`);
  if (!p.blockDeviceMappings.length) {
    throw new CloudError('MissingParameter', 'The request must contain the parameter BlockDeviceMapping (the root device with its Ebs.SnapshotId)');
  }
  const root = p.blockDeviceMappings.find((m) => m.deviceName === rootDevice);
  if (!root?.snapshotId) {
    throw new CloudError('InvalidBlockDeviceMapping', `The root device '${rootDevice}' needs a block device mapping with an Ebs.SnapshotId.`);
  }
  const others = p.blockDeviceMappings.filter((m) => m !== root && !m.noDevice);
  if (others.length) {
    throw new CloudError('UnsupportedOperation', `Only the root device's mapping is supported here; '${(others[0]!.deviceName ?? '').slice(0, 32)}' is not the root device '${rootDevice}'.`);
  }
  return {
    name: p.name, description, architecture, bootMode: bootMode === 'legacy-bios' ? 'legacy-bios' : 'uefi', snapshotId: root.snapshotId, volumeSize: root.volumeSize,
  };
}

export class Images {
  constructor(
    private readonly db: Db,
    private readonly pool: HostPool,
    /** Recipes, the build cache, and the Debian mirror builds use (the host's apt mirror unless said). */
    private readonly dirs: { recipes: string; cache: string; mirror?: string },
    private readonly tags: Tags,
    /** On a host that joined a control plane: fetches the images this host lacks (image-fetch.ts). */
    private readonly fetcher?: ImageFetch,
  ) {}

  /**
   * This host's root of the image, to fork ('' for a disk image), its files in this host's pool: on a joined host
   * they are fetched first from the control plane when this host lacks them (once, however many launches ask).
   */
  local(image: Image): Promise<string> {
    return this.fetcher ? this.fetcher.local(image) : Promise.resolve(image.rootPath);
  }

  /** On a joined host, fetch ahead the images launches here will want (image-fetch.ts); how many were fetched. */
  prefetch(hostId: string): Promise<number> {
    return this.fetcher ? this.fetcher.prefetch(hostId) : Promise.resolve(0);
  }

  /** An available image; with an account, only one it may use (its own or a public one). */
  async get(id: string, accountId?: string): Promise<Image> {
    if (!isId('ami', id)) throw new CloudError('InvalidAMIID.Malformed', `Invalid id: "${id}" (expecting "ami-...")`);
    const row = (await this.db.select().from(images).where(eq(images.id, id)).limit(1))[0];
    if (!row || row.state !== 'available' || (accountId !== undefined && !row.isPublic && row.ownerId !== accountId)) {
      throw new CloudError('InvalidAMIID.NotFound', `The image id '[${id}]' does not exist`);
    }
    return row;
  }

  /** A system image (built or imported by the operator: public) by name. */
  async byName(name: string): Promise<Image | undefined> {
    return (await this.db.select().from(images).where(and(eq(images.name, name), eq(images.isPublic, true), eq(images.state, 'available'))).limit(1))[0];
  }

  /** DescribeImages: the images an account can see (its own and public ones), by id, owner and filters (tags' included). */
  async describe(accountId: string, ids: string[], owners: string[], filters: Filter[]): Promise<Image[]> {
    for (const id of ids) if (!isId('ami', id)) throw new CloudError('InvalidAMIID.Malformed', `Invalid id: "${id}"`);
    const visible = or(eq(images.ownerId, accountId), eq(images.isPublic, true));
    const conds = [visible!, eq(images.state, 'available')];
    if (ids.length) conds.push(inArray(images.id, ids));
    let rows = await this.db.select().from(images).where(and(...conds)).orderBy(images.createdAt);
    if (ids.length) {
      const missing = ids.filter((id) => !rows.some((r) => r.id === id));
      if (missing.length) throw new CloudError('InvalidAMIID.NotFound', `The image id '[${missing.join(', ')}]' does not exist`);
    }
    if (owners.length) {
      rows = rows.filter((r) => owners.some((o) =>
        o === r.ownerId || (o === 'self' && r.ownerId === accountId) || (['amazon', 'pcloud'].includes(o) && r.ownerId === SYSTEM_ACCOUNT)));
    }
    if (!filters.length) return rows;
    return filterRows(rows, filters, imageFields, await this.tags.of(rows.map((r) => r.id)));
  }

  /** Whether the image also runs as a microvm (it has a kernel: its VM artifacts were made at registration). */
  /**
   * Whether this host has the image's files to judge by: its own images always; on a joined host, once fetched (it
   * fetches one at its first launch here, and the launching host is the one that boots it).
   */
  filesHere(image: Image): boolean {
    return this.fetcher ? this.fetcher.has(image) : true;
  }

  hasVm(image: Image): boolean {
    return existsSync(join(this.pool.vmDir(image.id), 'vmlinux'));
  }

  /** Whether the image has a raw disk a VM boots (from firmware, on q35). */
  hasDisk(image: Image): boolean {
    return existsSync(join(this.pool.vmDir(image.id), 'disk.raw'));
  }

  /** An imported installer ISO, attached to the image's instances while their disk is blank. */
  installer(image: Image): string | undefined {
    const iso = join(this.pool.vmDir(image.id), 'installer.iso');
    return existsSync(iso) ? iso : undefined;
  }

  /** Whether the image has a root file system (it runs as a container); imported disk images have none. */
  hasRoot(image: Image): boolean {
    return image.rootPath !== '';
  }

  async deregister(accountId: string, id: string): Promise<void> {
    const img = await this.get(id);
    if (img.ownerId !== accountId) throw new CloudError('AuthFailure', `Not authorized for image:${id}`);
    await this.db.delete(images).where(eq(images.id, id));
    // Instances forked from it keep their own copies (reflink): the unpacked root can go now.
    await this.pool.removeImage(id).catch((err) => log.warn(`removing image ${id}: ${(err as Error).message}`));
  }

  /**
   * Remove what crashed builds and imports left in the pool: unfinished roots whose builder is gone, and roots that
   * were never registered (killed between unpacking and registering).
   */
  async reconcile(): Promise<number> {
    const registered = new Set((await this.db.select({ id: images.id }).from(images)).map((r) => r.id));
    let removed = 0;
    for (const root of await this.pool.listImageRoots()) {
      const building = alive(root.ownerPid);
      if (building || registered.has(root.name)) continue;
      await this.pool.removeImage(root.name);
      removed++;
    }
    return removed;
  }

  /**
   * Build a recipe from images/ (e.g. debian-12) and register it, unless an image of that name exists already.
   * Build steps are cached by debootstrap's package cache under the data dir.
   */
  async build(name: string, opts: { progress?: Progress; force?: boolean } = {}): Promise<Image> {
    const { recipe, dir, hash } = await loadRecipe(this.dirs.recipes, name);
    const source = `recipe:${name}@${hash}`;
    const existing = await this.byName(name);
    if (existing && existing.source === source && !opts.force) return existing;
    const stepsFile = join(this.dirs.cache, `${name}.steps`);
    const expectedSteps = Number(await readFile(stepsFile, 'utf8').catch(() => '')) || undefined;
    const buildRoot = await this.pool.createImageRoot(`.build-${name}`);
    try {
      const { steps } = await buildRootfs(recipe, dir, buildRoot, {
        cacheDir: join(this.dirs.cache, 'debootstrap'), progress: opts.progress, expectedSteps, mirror: this.dirs.mirror,
      });
      await mkdir(this.dirs.cache, { recursive: true });
      await writeFile(stepsFile, String(steps + 1));
      return await this.register(buildRoot, {
        name, description: recipe.description, architecture: recipe.architecture, platform: recipe.platform,
        source,
      });
    } catch (err) {
      await this.pool.removeImage(`.build-${name}`).catch(() => undefined);
      throw err;
    }
  }

  /** `pcloud image import FILE.tar --name N`: unpack a root file system tarball and register it. */
  async importTar(file: string, name: string, opts: { architecture?: 'x86_64' | 'arm64'; description?: string } = {}): Promise<Image> {
    if ((await this.byName(name))) throw new CloudError('InvalidAMIName.Duplicate', `AMI name ${name} is already in use`);
    const buildRoot = await this.pool.createImageRoot(`.import-${name}`);
    try {
      await unpackTar(file, buildRoot);
      return await this.register(buildRoot, {
        name, description: opts.description ?? `Imported from ${file}`, architecture: opts.architecture ?? 'x86_64',
        platform: 'linux', source: `import:${file}`,
      });
    } catch (err) {
      await this.pool.removeImage(`.import-${name}`).catch(() => undefined);
      throw err;
    }
  }

  /**
   * `pcloud image import FILE.{qcow2,raw,iso} --name N`: a disk image for VMs, converted once to a raw disk in the pool
   * (instances fork it by reflink), or an installer ISO with a blank disk of diskSizeGiB. UEFI or Windows images run
   * on q35 whatever the instance type's family.
   */
  async importDisk(file: string, name: string, opts: { format?: DiskFormat; platform?: 'linux' | 'windows'; bootMode?: 'uefi' | 'legacy-bios'; diskSizeGiB?: number; description?: string } = {}): Promise<Image> {
    if ((await this.byName(name))) throw new CloudError('InvalidAMIName.Duplicate', `AMI name ${name} is already in use`);
    const format = opts.format ?? await detectDiskFormat(file);
    const platform = opts.platform ?? 'linux';
    // Windows boots from UEFI here (Secure Boot capable, with a TPM), as Windows 11 requires.
    const bootMode = opts.bootMode ?? (platform === 'windows' || format === 'iso' ? 'uefi' : 'legacy-bios');
    if (bootMode !== 'uefi' && platform !== 'windows') {
      throw new Error(`${file}: a disk image without a kernel pcloud can boot directly needs firmware: import it with --boot-mode uefi`);
    }
    return this.registerDisk((dir) => importDiskArtifacts(file, dir, format, opts.diskSizeGiB ?? 32), {
      ownerId: SYSTEM_ACCOUNT, name, description: opts.description ?? `Imported from ${file} (${format})`, architecture: 'x86_64',
      platform, bootMode, isPublic: true, source: `import:${format}:${file}`,
    });
  }

  /**
   * Register a VM-only image (no root file system: disk imports and CreateImage of VMs): `fill` makes its VM directory
   * (disk.raw, and kernel and initrd for microvm), marked as this process's until the row exists, removed on failure.
   */
  private async registerDisk(fill: (dir: string) => Promise<void>, meta: Omit<Image, 'id' | 'state' | 'rootPath' | 'sizeBytes' | 'createdAt' | 'contentSha256'>): Promise<Image> {
    const id = newId('ami');
    const dir = this.pool.vmDir(id);
    await this.pool.markOwner(id);
    try {
      await fill(dir);
      const row: Image = { ...meta, id, state: 'available', rootPath: '', sizeBytes: await diskUsage(dir), createdAt: Date.now(), contentSha256: null };
      await this.db.insert(images).values(row);
      await this.pool.markOwner(id, false);
      return row;
    } catch (err) {
      await this.pool.removeImage(id).catch(() => undefined);
      throw err;
    }
  }

  /**
   * CreateImage: a private image of the account's own from an instance's disk (a reflink copy, so milliseconds; of a
   * running instance the copy is crash-consistent, as with NoReboot on AWS). Returns once it is available.
   */
  async fromInstance(accountId: string, inst: { id: string; imageId: string; runtime: string }, name: string, description: string): Promise<Image> {
    if (!AMI_NAME.test(name)) throw invalidParam(AMI_NAME_RULE);
    await this.checkNameFree(accountId, name);
    const base = (await this.db.select().from(images).where(eq(images.id, inst.imageId)).limit(1))[0];
    if (inst.runtime !== 'container') return this.fromVm(accountId, inst, name, description, base);
    await assertUnshifted(this.pool.diskPath(inst.id)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== undefined) throw err; // the disk could not be looked at: not the refusal
      throw new CloudError('UnsupportedOperation', `Images cannot be made from the container instance '${inst.id}' on this cloud: `
        + 'its files are owned by its own user range on this host. Launch the instance with a VM instance type to make images of it, '
        + 'or ask the operator to run containers on a host with idmapped mounts.');
    });
    const work = `.create-${inst.id}-${Date.now()}`;
    const root = await this.pool.imageRootFromDisk(inst.id, work);
    try {
      return await this.register(root, {
        name, description, architecture: base?.architecture === 'arm64' ? 'arm64' : 'x86_64', platform: base?.platform ?? 'linux',
        source: `instance:${inst.id}`, owner: { accountId },
      });
    } catch (err) {
      await this.pool.removeImage(work).catch(() => undefined);
      // The instance's root is the tenant's: what it holds that an image cannot (a link where /boot's kernel is) is theirs to change.
      if (err instanceof UnsafeImageError) throw new CloudError('UnsupportedOperation', `The instance '${inst.id}' cannot be imaged: ${printable(err.message)}.`);
      throw err;
    }
  }

  /** AWS refuses a second image of the same name in an account. */
  private async checkNameFree(accountId: string, name: string): Promise<void> {
    if ((await this.db.select({ id: images.id }).from(images).where(and(eq(images.ownerId, accountId), eq(images.name, name))).limit(1))[0]) {
      throw new CloudError('InvalidAMIName.Duplicate', `AMI name ${name} is already in use by AMI`);
    }
  }

  /**
   * RegisterImage from a snapshot of a VM's root volume: the snapshot's raw disk as the image's (a reflink copy: no
   * copy of the data where the pool can share it), with the kernel and initrd of the image its instance ran when that
   * one boots as a microvm (as CreateImage of a VM). A UEFI image's firmware boots the disk itself (q35).
   */
  async fromSnapshot(accountId: string, req: RegisterRequest, snapshotFile: string, base: Image | undefined): Promise<Image> {
    await this.checkNameFree(accountId, req.name);
    return this.registerDisk(async (dir) => {
      await mkdir(dir, { recursive: true });
      await copyFile(snapshotFile, join(dir, 'disk.raw'), constants.COPYFILE_FICLONE);
      const from = base && req.bootMode === 'legacy-bios' ? this.pool.vmDir(base.id) : undefined;
      for (const f of ['vmlinux', 'initrd.img']) {
        if (from && existsSync(join(from, f))) await copyFile(join(from, f), join(dir, f), constants.COPYFILE_FICLONE);
      }
    }, {
      ownerId: accountId, name: req.name, description: req.description, architecture: req.architecture,
      platform: base?.platform ?? 'linux', bootMode: req.bootMode, isPublic: false, source: `snapshot:${req.snapshotId}`,
    });
  }

  /**
   * CreateImage of a VM: its raw disk copied by reflink (crash-consistent while it runs) as the new image's disk, with
   * the kernel and initrd of the image it came from when that one boots as a microvm; platform and boot mode carry
   * over (an installed Windows becomes a Windows AMI). No installer ISO comes along.
   */
  private fromVm(accountId: string, inst: { id: string }, name: string, description: string, base: Image | undefined): Promise<Image> {
    return this.registerDisk(async (dir) => {
      await mkdir(dir, { recursive: true });
      await this.pool.copyRawDisk(inst.id, join(dir, 'disk.raw'));
      const from = base ? this.pool.vmDir(base.id) : undefined;
      for (const f of ['vmlinux', 'initrd.img']) {
        if (from && existsSync(join(from, f))) await copyFile(join(from, f), join(dir, f), constants.COPYFILE_FICLONE);
      }
    }, {
      ownerId: accountId, name, description, architecture: base?.architecture === 'arm64' ? 'arm64' : 'x86_64',
      platform: base?.platform ?? 'linux', bootMode: base?.bootMode ?? 'legacy-bios', isPublic: false, source: `instance:${inst.id}`,
    });
  }

  /**
   * Register an unpacked root. Without an owner it is a system image: public, and a rebuild replaces the image of its
   * name. With one (CreateImage) it is that account's, private, and replaces nothing.
   */
  private async register(buildRoot: string, meta: { name: string; description: string; architecture: 'x86_64' | 'arm64'; platform: string; source: string; owner?: { accountId: string } }): Promise<Image> {
    const id = newId('ami');
    const removed = await removeDeviceNodes(buildRoot);
    if (removed) log.info(`image ${id}: removed ${removed} device nodes from its root (containers and VMs get their own /dev)`);
    const sizeBytes = await diskUsage(buildRoot);
    const rootPath = await this.pool.sealImage(buildRoot, id);
    // A root with a kernel also runs as a microvm: its kernel, initrd and raw disk are made now, not at launch.
    try {
      await buildVmArtifacts(rootPath, this.pool.vmDir(id));
    } catch (err) {
      await this.pool.removeImage(id).catch(() => undefined);
      throw err;
    }
    const old = meta.owner ? undefined : (await this.byName(meta.name));
    const row: Image = {
      id, ownerId: meta.owner?.accountId ?? SYSTEM_ACCOUNT, name: meta.name, description: meta.description, architecture: meta.architecture,
      platform: meta.platform, bootMode: 'legacy-bios', state: 'available', isPublic: !meta.owner, rootPath, sizeBytes,
      source: meta.source, createdAt: Date.now(), contentSha256: null,
    };
    await write(this.db, async (tx) => {
      if (old) await tx.delete(images).where(eq(images.id, old.id));
      await tx.insert(images).values(row);
    });
    // Instances forked from the old build keep their own copy (reflink): its root can go.
    if (old) await this.pool.removeImage(old.id).catch((err) => log.warn(`removing ${old.id}: ${(err as Error).message}`));
    return row;
  }
}
