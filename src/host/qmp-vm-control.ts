/**
 * VM control over QMP: each request connects to the VM's QMP socket (QEMU serves one client per monitor), runs its
 * commands and closes. Disks are hot plugged as virtio disks on q35's free PCIe root ports.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { log } from '../log.js';
import { HOTPLUG_PORTS, hotPlugPort, vncSocket } from './q35.js';
import { diskSerial, qmpSocket } from './qemu.js';
import { Qmp } from './qmp.js';
import { ppmToJpeg } from './screen.js';
import { vmRunDir, type VmControl, type VmDisk, type VmRunState } from './vm-control.js';

/** What a request needs of a QMP connection (a fake in unit tests). */
export interface QmpSession {
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T>;
  close(): void;
}

export type QmpConnect = (path: string, timeoutMs?: number) => Promise<QmpSession>;

/** The parts of an `iscsi://HOST:PORT/TARGET/LUN` URL (as the iSCSI target driver makes them) QEMU's blockdev takes. */
export function parseIscsiUri(uri: string): { portal: string; target: string; lun: number } {
  const m = /^iscsi:\/\/([^/]+)\/([^/]+)\/(\d+)$/.exec(uri);
  if (!m) throw new Error(`not an iSCSI URL: ${JSON.stringify(uri.slice(0, 200))}`);
  return { portal: m[1]!, target: m[2]!, lun: Number(m[3]) };
}

/** QMP `blockdev-add` arguments opening a disk over iSCSI as the node named by its id. */
export function iscsiBlockdev(disk: VmDisk): Record<string, unknown> {
  return { driver: 'iscsi', 'node-name': disk.id, transport: 'tcp', ...parseIscsiUri(disk.uri) };
}

/** The device id a hot-plugged disk gets, by which it is unplugged. */
export const hotPlugDevice = (diskId: string) => `dev-${diskId}`;

/**
 * Add the disk's virtio device on the first hot-plug port that takes it (QEMU refuses a port already holding a
 * device). The port it went to, or undefined when none did.
 */
export async function plugIntoFreePort(qmp: QmpSession, diskId: string, ports = HOTPLUG_PORTS): Promise<string | undefined> {
  for (let i = 0; i < ports; i++) {
    const bus = hotPlugPort(i);
    const added = await qmp.execute('device_add', { driver: 'virtio-blk-pci', drive: diskId, id: hotPlugDevice(diskId), bus, serial: diskSerial(diskId) })
      .then(() => true, () => false);
    if (added) return bus;
  }
  return undefined;
}

export class QmpVmControl implements VmControl {
  readonly hotPlugSlots = HOTPLUG_PORTS;

  /**
   * `runRoot`: the host's run directory, under which each VM's unit keeps its sockets (vmRunDir). `pauseMs`: how
   * long an unplug waits between asking QEMU to close a disk the guest may still hold.
   */
  constructor(
    private readonly runRoot: string,
    private readonly connect: QmpConnect = (path, timeoutMs) => Qmp.connect(path, timeoutMs),
    private readonly pauseMs = 200,
  ) {}

  async hotPlug(instanceId: string, disk: VmDisk): Promise<boolean> {
    const blockdev = iscsiBlockdev(disk);
    return this.session(instanceId, async (qmp) => {
      await qmp.execute('blockdev-add', blockdev);
      if (await plugIntoFreePort(qmp, disk.id)) return true;
      await qmp.execute('blockdev-del', { 'node-name': disk.id }).catch(() => undefined);
      return false;
    });
  }

  async unplug(instanceId: string, diskId: string, waitMs: number): Promise<boolean> {
    return this.session(instanceId, async (qmp) => {
      await qmp.execute('device_del', { id: hotPlugDevice(diskId) }).catch(() => undefined);
      // The guest lets go of the device, then the node can go.
      const attempts = Math.max(1, Math.ceil(waitMs / this.pauseMs));
      for (let i = 0; i < attempts; i++) {
        if (await qmp.execute('blockdev-del', { 'node-name': diskId }).then(() => true, () => false)) return true;
        await new Promise((r) => setTimeout(r, this.pauseMs));
      }
      return false;
    });
  }

  async powerButton(instanceId: string): Promise<boolean> {
    try {
      await this.command(instanceId, 'system_powerdown');
      return true;
    } catch (err) {
      log.debug(`system_powerdown ${instanceId}: ${(err as Error).message}`);
      return false;
    }
  }

  async reset(instanceId: string): Promise<void> {
    await this.command(instanceId, 'system_reset');
  }

  async status(instanceId: string): Promise<VmRunState | undefined> {
    try {
      return (await this.command<{ status: string }>(instanceId, 'query-status', undefined, 2000)).status;
    } catch {
      return undefined;
    }
  }

  /** QMP's screendump writes PPM into the VM's run directory; it is read, encoded and removed. */
  async screenshot(instanceId: string): Promise<Buffer> {
    const file = join(vmRunDir(this.runRoot, instanceId), `screen-${process.pid}-${Date.now()}.ppm`);
    try {
      await this.command(instanceId, 'screendump', { filename: file });
      return ppmToJpeg(await readFile(file));
    } finally {
      await rm(file, { force: true });
    }
  }

  display(instanceId: string): string {
    return vncSocket(vmRunDir(this.runRoot, instanceId));
  }

  private async session<T>(instanceId: string, use: (qmp: QmpSession) => Promise<T>, timeoutMs?: number): Promise<T> {
    const qmp = await this.connect(qmpSocket(vmRunDir(this.runRoot, instanceId)), timeoutMs);
    try {
      return await use(qmp);
    } finally {
      qmp.close();
    }
  }

  private command<T = unknown>(instanceId: string, command: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T> {
    return this.session(instanceId, (qmp) => qmp.execute<T>(command, args), timeoutMs);
  }
}
