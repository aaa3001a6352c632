/**
 * Volumes reach VMs over iSCSI: pcloud's own `tgtd` (the `pcloud-iscsi` unit, its own control port so it leaves any
 * other tgtd alone) exports each attached volume's raw file as one target with one LUN, open only to the initiator
 * address of the VPC router its VM's QEMU runs in. QEMU connects with its own iscsi:// driver (qemu-block-extra): the
 * host needs no iSCSI initiator. tgtd keeps targets in memory only; reconcile exports again what running VMs use.
 * Between hosts (a volume moving to its instance's host, cloud/volume-moves.ts) the same target is exported on the
 * host's underlay address to the taking host's underlay address only, and that host copies it with qemu-img.
 */
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { run } from './exec.js';
import { KeyedQueue } from '../serial.js';
import { unicast } from './vxlan.js';
import type { UnitManager, UnitSpec } from './units/types.js';
import { isFinal } from './units/types.js';
import { SERVICE_RESTART } from './units/restart.js';
import type { HostIscsi } from './index.js';

export const ISCSI_UNIT = 'pcloud-iscsi';
export const iqnOf = (volumeId: string) => `iqn.2026-11.org.pcloud:${volumeId}`;

/** Another host's export of a volume, as its URL names it: its portal and the volume (or refused: not one of ours). */
export function exportOf(uri: string): { address: string; port: number; volumeId: string } {
  const m = /^iscsi:\/\/([0-9.]{7,15}):([0-9]{1,5})\/iqn\.2026-11\.org\.pcloud:(vol-[0-9a-f]{8,32})\/1$/.exec(uri);
  const port = Number(m?.[2]);
  if (!m || !(port >= 1 && port <= 65535)) throw new Error('not a pcloud volume export');
  return { address: unicast(m[1]!), port, volumeId: m[3]! };
}

/** The nft table that keeps tenants off the exports this host copies from. */
export const COPY_GUARD_TABLE = 'inet pcloud_iscsi_guard';

/**
 * The host's guard in front of another host's export it copies from (its portal: address . port): nothing forwarded
 * from a VPC router's uplink (an instance, NATed to this host's address) and no unprivileged process of the host (a
 * Lambda handler, in its network namespace) reaches it. Only this host's root (the copy) does. Idempotent.
 */
export function copyGuardText(address: string, port: number): string {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error('not a port');
  const t = COPY_GUARD_TABLE;
  return [
    `add table ${t}`,
    `add set ${t} portals { type ipv4_addr . inet_service; }`,
    `add chain ${t} forward { type filter hook forward priority filter - 1; policy accept; }`,
    `flush chain ${t} forward`,
    `add rule ${t} forward iifname "pu*" ip daddr . tcp dport @portals drop`,
    `add chain ${t} output { type filter hook output priority filter - 1; policy accept; }`,
    `flush chain ${t} output`,
    `add rule ${t} output ip daddr . tcp dport @portals meta skuid != 0 drop`,
    `add element ${t} portals { ${unicast(address)} . ${port} }`,
    '',
  ].join('\n');
}

export interface IscsiOptions {
  /** tgtd's control port: its socket is /var/run/tgtd/socket.<port>. */
  controlPort: number;
  port: number;
}

export class IscsiTarget implements HostIscsi {
  constructor(private readonly units: UnitManager, readonly opts: IscsiOptions = { controlPort: 7, port: 3260 }) {}

  unit(): UnitSpec {
    return {
      name: ISCSI_UNIT,
      description: 'pcloud iSCSI target (tgtd) for volumes',
      exec: ['tgtd', '-f', '-C', String(this.opts.controlPort), '--iscsi', `portal=127.0.0.1:${this.opts.port}`],
      type: 'simple',
      startTimeoutSec: 10,
      stopTimeoutSec: 10,
      restart: SERVICE_RESTART,
      ports: [{ host: '127.0.0.1', port: this.opts.port, setting: 'PCLOUD_ISCSI_PORT' }],
    };
  }

  private get socket(): string {
    return `/var/run/tgtd/socket.${this.opts.controlPort}`;
  }

  /** One tgtadm call, bounded: tgtd's changes wait on each other, so one that hangs must not hold the rest for good. */
  private adm(args: string[], reject = true) {
    return run('tgtadm', ['-C', String(this.opts.controlPort), '--lld', 'iscsi', ...args], { reject, timeoutMs: 30_000 });
  }

  /**
   * tgtd's changes, one at a time: two started at once (VMs attaching volumes on a host whose tgtd is not running yet,
   * or a move's export beside an attach) would each start tgtd, or give two volumes the same target id.
   */
  private readonly changes = new KeyedQueue();
  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    return this.changes.run('tgtd', fn);
  }

  /** tgtd running and answering (started on first use). */
  ensure(): Promise<void> {
    return this.serialized(() => this.ensureNow());
  }

  private async ensureNow(): Promise<void> {
    const st = await this.units.status(ISCSI_UNIT);
    if (!st || isFinal(st.state)) {
      if (st) await this.units.remove(ISCSI_UNIT);
      await this.units.start(this.unit());
    }
    for (let i = 0; i < 250; i++) {
      if (existsSync(this.socket) && (await this.adm(['--op', 'show', '--mode', 'sys'], false)).exitCode === 0) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`tgtd (control port ${this.opts.controlPort}) did not come up`);
  }

  /** Listen also on this host address (the host's end of a VPC router's uplink). */
  addPortal(address: string): Promise<void> {
    return this.serialized(() => this.addPortalNow(address));
  }

  private async addPortalNow(address: string): Promise<void> {
    const shown = (await this.adm(['--op', 'show', '--mode', 'portal'])).stdout;
    if (shown.includes(`Portal: ${address}:${this.opts.port},`)) return;
    await this.adm(['--op', 'new', '--mode', 'portal', '--param', `portal=${address}:${this.opts.port}`]);
  }

  async targets(): Promise<Map<string, number>> {
    const out = (await this.adm(['--op', 'show', '--mode', 'target'])).stdout;
    return new Map([...out.matchAll(/^Target (\d+): (\S+)$/gm)].map((m) => [m[2]!, Number(m[1])]));
  }

  /**
   * Export a volume's file as its own target (LUN 1), for this initiator address only (read-only: a move's copy).
   * Idempotent.
   */
  export(volumeId: string, file: string, initiator: string, opts: { readOnly?: boolean } = {}): Promise<void> {
    return this.serialized(() => this.exportNow(volumeId, file, initiator, opts));
  }

  private async exportNow(volumeId: string, file: string, initiator: string, opts: { readOnly?: boolean }): Promise<void> {
    const targets = await this.targets();
    let tid = targets.get(iqnOf(volumeId));
    if (tid === undefined) {
      tid = Math.max(0, ...targets.values()) + 1;
      await this.adm(['--op', 'new', '--mode', 'target', '--tid', String(tid), '-T', iqnOf(volumeId)]);
      await this.adm(['--op', 'new', '--mode', 'logicalunit', '--tid', String(tid), '--lun', '1', '-b', file]).catch(async (err: Error) => {
        await this.adm(['--op', 'delete', '--mode', 'target', '--tid', String(tid), '--force'], false);
        throw err;
      });
    }
    // Said each time: a target a move left (read-only) serves its own host's VM read-write again.
    await this.adm(['--op', 'update', '--mode', 'logicalunit', '--tid', String(tid), '--lun', '1', '--params', `readonly=${opts.readOnly ? 1 : 0}`]);
    const acl = await this.adm(['--op', 'bind', '--mode', 'target', '--tid', String(tid), '-I', initiator], false);
    if (acl.exitCode !== 0 && !/already exists/.test(acl.stderr)) throw new Error(`tgtadm bind ${volumeId}: ${acl.stderr.trim()}`);
  }

  /** The volumes exported now, each as its own target (none while tgtd is not running). */
  async exportedVolumes(): Promise<string[]> {
    if (!existsSync(this.socket)) return [];
    const shown = await this.adm(['--op', 'show', '--mode', 'target'], false);
    if (shown.exitCode !== 0) return [];
    const prefix = iqnOf('');
    return [...shown.stdout.matchAll(/^Target \d+: (\S+)$/gm)].map((m) => m[1]!).filter((iqn) => iqn.startsWith(prefix)).map((iqn) => iqn.slice(prefix.length));
  }

  unexport(volumeId: string): Promise<void> {
    return this.serialized(() => this.unexportNow(volumeId));
  }

  private async unexportNow(volumeId: string): Promise<void> {
    const tid = (await this.targets()).get(iqnOf(volumeId));
    if (tid !== undefined) await this.adm(['--op', 'delete', '--mode', 'target', '--tid', String(tid), '--force']);
  }

  /**
   * Copy an exported volume (its iscsi:// URL, another host's) into `file`: sparse where it reads zeroes, complete or
   * not there at all (written beside it, then renamed). `signal` aborting ends the copy, leaving nothing of it.
   */
  async copyFrom(uri: string, file: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const { address, port } = exportOf(uri);
    await run('nft', ['-f', '-'], { input: copyGuardText(address, port) });
    const part = `${file}.tmp`;
    try {
      await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'raw', '-S', '64k', uri, part], { timeoutMs, signal });
      await rename(part, file);
    } catch (err) {
      await rm(part, { force: true });
      throw err;
    }
  }

  /** The URL QEMU opens the volume by, from the portal address its namespace reaches. */
  uri(volumeId: string, portal: string): string {
    return `iscsi://${portal}:${this.opts.port}/${iqnOf(volumeId)}/1`;
  }
}
