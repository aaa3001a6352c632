/**
 * VM instances: which runtime an image and a type get, what a VM launch prepares (concurrently: disk fork, network,
 * firmware state and TPM), which volumes a running VM takes or lets go, and when its power button, reset, status and
 * screenshot are asked for. How QEMU is reached is the host's VmControl (src/host/vm-control.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import type { Host } from '../host/index.js';
import { vmArtifacts } from '../host/images.js';
import { microvmUnit } from '../host/qemu.js';
import { diskBlank, ensureVmState, firmwareFor, q35Unit, tpmSocket, tpmUnit, tpmUnitName, virtioWinIso, vmState } from '../host/q35.js';
import { vmRunDir, type VmControl, type VmDisk, type VmRunState } from '../host/vm-control.js';
import { uplinkAddresses } from '../host/network.js';
import type { UnitSpec } from '../host/units/types.js';
import type { InstanceType, Runtime } from './catalog.js';
import type { CloudConfig } from './config.js';
import { CloudError } from './errors.js';
import type { Image, Images } from './images.js';
import type { AttachedVolume, HotPlug } from './volumes.js';

interface VmInstance {
  id: string;
  vpcId: string;
  macAddress: string;
  runtime: string;
}

/** EC2's SMBIOS system uuid starts with `ec2` (cloud-init and ec2 tools check it); the rest is the instance id's hash. */
export function ec2Uuid(instanceId: string): string {
  const h = `ec2${createHash('sha256').update(instanceId).digest('hex').slice(0, 29)}`;
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export class Vms {
  private readonly runRoot: string;
  /** The running VMs' controls: the decisions are here, QMP is behind the interface. */
  private readonly control: VmControl;

  constructor(
    private readonly host: Host,
    private readonly config: CloudConfig,
    private readonly images: Images,
  ) {
    this.runRoot = config.runDir ?? '/run/pcloud';
    this.control = host.vms;
  }

  /**
   * The runtime of an instance of `type` from `image`: a Windows or UEFI image runs on q35 whatever the family; other
   * images on their family's runtime. A pair that cannot boot is a clear error here, never a failed boot; a joined
   * host that has not fetched the image yet cannot see its kernel or disk, and leaves those to the host that boots it.
   */
  runtimeFor(type: InstanceType, image: Image): Runtime {
    const runtime: Runtime = image.platform === 'windows' || image.bootMode === 'uefi' ? 'q35' : type.runtime;
    const files = this.images.filesHere(image);
    if (runtime === 'container' && !this.images.hasRoot(image)) {
      throw new CloudError('InvalidParameterCombination', `The image '${image.id}' is a disk image and runs only as a VM: choose an instance type of a VM family (m5, c5, r5, ...).`);
    }
    if (files && runtime === 'microvm' && !this.images.hasVm(image)) {
      throw new CloudError('InvalidParameterCombination', `The image '${image.id}' has no kernel, so it runs only as a container: choose a t2, t3, t3a or t4g instance type, or an image with a kernel for '${type.name}'.`);
    }
    if (files && runtime === 'q35' && !this.images.hasDisk(image)) {
      throw new CloudError('InvalidParameterCombination', `The image '${image.id}' has no disk for a UEFI VM.`);
    }
    if (runtime !== 'container' && this.config.networking !== 'vpc') throw new CloudError('Unsupported', 'VMs need VPC networking (PCLOUD_NETWORKING=none is set)');
    return runtime;
  }

  runDir(instanceId: string): string {
    return vmRunDir(this.runRoot, instanceId);
  }

  /** The VNC socket of the VM's display, which console websockets carry. */
  vncPath(instanceId: string): string {
    return this.control.display(instanceId);
  }

  /**
   * Everything a VM needs before its QEMU starts, at once: the disk forked from the image, the network (given), the run
   * directory, and for q35 the firmware variables and the TPM unit. Returns the instance's unit. `checkpoint` throws
   * once the launch is cancelled: no unit starts after that.
   */
  async prepare(
    inst: VmInstance, image: Image, type: InstanceType, network: () => Promise<unknown>, attached: AttachedVolume[],
    checkpoint: () => Promise<void> = () => Promise.resolve(),
  ): Promise<UnitSpec> {
    const runDir = this.runDir(inst.id);
    const accel = this.config.vmAccel ?? 'tcg';
    const ready = mkdir(runDir, { recursive: true });
    // Volumes are exported to the VPC router's uplink address, which the network step makes.
    const withVolumes = () => network().then(() => this.connect(inst, attached));
    if (inst.runtime === 'microvm') {
      const [disk, volumes] = await Promise.all([this.host.pool.forkRaw(image.id, inst.id), withVolumes(), ready]);
      return microvmUnit({
        instanceId: inst.id, vpcId: inst.vpcId, mac: inst.macAddress, vcpus: type.vcpus, memoryMiB: type.memoryMiB,
        artifacts: vmArtifacts(this.host.pool.vmDir(image.id)), disk, volumes, runDir, accel, caCerts: [this.host.tls.certificate()],
        readyTimeoutSec: Math.max(this.config.readyTimeoutSec, accel === 'kvm' ? 120 : 600),
      });
    }
    const firmware = firmwareFor(image.platform, this.host.config.ovmfDir);
    const state = vmState(this.host.pool.stateDir(inst.id));
    const [disk, volumes] = await Promise.all([
      this.host.pool.forkRaw(image.id, inst.id),
      withVolumes(),
      (async () => {
        await Promise.all([ensureVmState(state, firmware), ready]);
        // A relaunch after a crash finds the last TPM still running, or its socket left behind.
        await this.host.units.stop(tpmUnitName(inst.id));
        await rm(tpmSocket(runDir), { force: true });
        await checkpoint();
        await this.host.units.start(tpmUnit({ instanceId: inst.id, state, runDir }));
        await waitForFile(tpmSocket(runDir), 10_000, `the TPM of ${inst.id}`);
      })(),
    ]);
    // Installer and drivers only while nothing has been installed on the disk.
    const installer = this.images.installer(image);
    const drivers = image.platform === 'windows' ? virtioWinIso(this.host.config.virtioWinIso) : undefined;
    const cdroms = (await diskBlank(disk)) ? [installer, drivers].filter((x): x is string => !!x) : [];
    return q35Unit({
      instanceId: inst.id, vpcId: inst.vpcId, mac: inst.macAddress, vcpus: type.vcpus, memoryMiB: type.memoryMiB,
      uuid: ec2Uuid(inst.id), disk, firmware, state, cdroms, volumes, runDir, accel,
    });
  }

  /**
   * Export volumes over iSCSI to the VM's VPC router (where its QEMU runs): tgtd listens on the host's end of the
   * router's uplink and lets in the router's end only. Returns the URLs QEMU opens.
   */
  private async connect(inst: { id: string; vpcId: string }, attached: AttachedVolume[]): Promise<VmDisk[]> {
    if (!attached.length) return [];
    const up = uplinkAddresses(inst.vpcId);
    await this.host.iscsi.ensure();
    await this.host.iscsi.addPortal(up.host);
    for (const v of attached) await this.host.iscsi.export(v.id, v.file, up.router);
    return attached.map((v) => ({ id: v.id, uri: this.host.iscsi.uri(v.id, up.host) }));
  }

  /** Hot plug for running q35 VMs: the volume's iSCSI export, then a disk on a free hot-plug slot. */
  readonly hotPlug: HotPlug = {
    plug: async (instanceId, vpcId, volume) => {
      const disk = (await this.connect({ id: instanceId, vpcId }, [volume]))[0]!;
      // A plug that fails leaves no export behind.
      const plugged = await this.control.hotPlug(instanceId, disk).catch(async (err: unknown) => {
        await this.host.iscsi.unexport(volume.id).catch(() => undefined);
        throw err;
      });
      if (plugged) return;
      await this.host.iscsi.unexport(volume.id).catch(() => undefined);
      throw new CloudError('AttachmentLimitExceeded', `The instance '${instanceId}' has no free slot for another volume while it runs (${this.control.hotPlugSlots}): stop it to attach more.`);
    },
    unplug: async (instanceId, volumeId, force) => {
      // Forced: the guest gets a second to let go, and the volume goes whether or not it did.
      if (await this.control.unplug(instanceId, volumeId, force ? 1_000 : 10_000) || force) return;
      throw new CloudError('IncorrectState', `The instance '${instanceId}' did not release the volume '${volumeId}' (its operating system must acknowledge the unplug); stop it, or detach with Force.`);
    },
  };

  /** Units besides the instance's own that a VM holds (its TPM), to stop with it. */
  companions(instanceId: string): string[] {
    return [tpmUnitName(instanceId)];
  }

  /** Press the VM's ACPI power button; false when QEMU does not answer. */
  powerButton(instanceId: string): Promise<boolean> {
    return this.control.powerButton(instanceId);
  }

  /**
   * The VM's run state as QEMU reports it: `running`, or why not (`paused`, `guest-panicked`, `internal-error`,
   * `shutdown`, ...); undefined when QEMU does not answer.
   */
  status(instanceId: string): Promise<VmRunState | undefined> {
    return this.control.status(instanceId);
  }

  /** Reset the VM (EC2's reboot of an instance that does not shut down by itself). */
  reset(instanceId: string): Promise<void> {
    return this.control.reset(instanceId);
  }

  /** The display as a JPEG (GetConsoleScreenshot, as EC2 sends it). */
  screenshot(instanceId: string): Promise<Buffer> {
    return this.control.screenshot(instanceId);
  }
}

async function waitForFile(path: string, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > until) throw new Error(`${what} did not start in ${timeoutMs} ms (${path} missing)`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
