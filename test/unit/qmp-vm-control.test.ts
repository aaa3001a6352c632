/**
 * VM control over QMP against a small QMP server on a real UNIX socket (greeting, capabilities negotiation, one answer
 * per command, events in between): which commands a hot plug, an unplug, the power button, a status and a screenshot
 * send, and what they make of QEMU's answers. The real QEMU is in test/integration/q35.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { iscsiBlockdev, parseIscsiUri, QmpVmControl } from '../../src/host/qmp-vm-control.js';
import { HOTPLUG_PORTS } from '../../src/host/q35.js';
import { vmRunDir } from '../../src/host/vm-control.js';

type Answer = { return?: unknown; error?: { class: string; desc: string } } | { raw: string };
type Handler = (args: Record<string, unknown> | undefined) => Answer | Promise<Answer>;

/** A QMP monitor: `handlers` answer by command (unknown commands: CommandNotFound); `seen` records every command. */
class FakeQmpServer {
  readonly seen: { execute: string; arguments?: Record<string, unknown> }[] = [];
  readonly handlers = new Map<string, Handler>();
  connections = 0;
  private constructor(private readonly server: Server) {}

  static async listen(path: string): Promise<FakeQmpServer> {
    const server = createServer();
    const fake = new FakeQmpServer(server);
    server.on('connection', (sock) => {
      fake.connections++;
      sock.write(`${JSON.stringify({ QMP: { version: { qemu: { major: 8, minor: 2, micro: 0 } }, capabilities: [] } })}\n`);
      let buf = '';
      let negotiated = false;
      sock.on('data', (d) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const msg = JSON.parse(buf.slice(0, nl)) as { execute: string; arguments?: Record<string, unknown> };
          buf = buf.slice(nl + 1);
          if (msg.execute === 'qmp_capabilities') {
            negotiated = true;
            sock.write('{"return": {}}\n');
            continue;
          }
          if (!negotiated) throw new Error('command before capabilities negotiation');
          fake.seen.push(msg);
          const handler = fake.handlers.get(msg.execute) ?? (() => ({ error: { class: 'CommandNotFound', desc: `The command ${msg.execute} has not been found` } }));
          void Promise.resolve(handler(msg.arguments)).then((answer) => {
            // An event before the answer: a client must not take it for the answer.
            sock.write(`${JSON.stringify({ event: 'RTC_CHANGE', data: { offset: 0 }, timestamp: { seconds: 0, microseconds: 0 } })}\n`);
            sock.write('raw' in answer ? answer.raw : `${JSON.stringify(answer)}\n`);
          });
        }
      });
      sock.on('error', () => undefined);
    });
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(path, resolve); });
    return fake;
  }

  commands(): string[] { return this.seen.map((m) => m.execute); }
  close(): Promise<void> { return new Promise((resolve) => this.server.close(() => resolve())); }
}

const ID = 'i-0123456789abcdef0';
const VOL = 'vol-0123456789abcdef0';
const URI = `iscsi://10.0.1.1:3260/iqn.2026-11.org.pcloud:${VOL}/1`;
const taken = { error: { class: 'GenericError', desc: 'Bus hp0 does not support hotplugging (slot taken)' } };

let root: string;
let qmp: FakeQmpServer;
let vms: QmpVmControl;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'pcloud-qmp-'));
  await mkdir(vmRunDir(root, ID), { recursive: true });
  qmp = await FakeQmpServer.listen(join(vmRunDir(root, ID), 'qmp.sock'));
  vms = new QmpVmControl(root, undefined, 1);
});
afterEach(async () => {
  await qmp.close();
  await rm(root, { recursive: true, force: true });
});

describe('iSCSI URLs as QEMU blockdevs', () => {
  it('splits a URL the iSCSI target driver makes into portal, target and LUN', () => {
    expect(parseIscsiUri(URI)).toEqual({ portal: '10.0.1.1:3260', target: `iqn.2026-11.org.pcloud:${VOL}`, lun: 1 });
    expect(iscsiBlockdev({ id: VOL, uri: URI })).toEqual({
      driver: 'iscsi', 'node-name': VOL, transport: 'tcp', portal: '10.0.1.1:3260', target: `iqn.2026-11.org.pcloud:${VOL}`, lun: 1,
    });
  });

  it('refuses anything else, without echoing a long value whole', () => {
    for (const bad of ['', 'http://10.0.1.1/x/1', 'iscsi://10.0.1.1:3260/target', 'iscsi://10.0.1.1:3260/a/b/1', 'iscsi://h/t/x', `${URI}\n`, 'iscsi:///t/1']) {
      expect(() => parseIscsiUri(bad), bad).toThrow(/not an iSCSI URL/);
    }
    expect(() => parseIscsiUri(`iscsi://${'a'.repeat(100_000)}`)).toThrow(/^.{0,260}$/s);
  });
});

describe('VM control over QMP', () => {
  it('hot plugs a disk on the first free PCIe root port, serial the volume id without its dash', async () => {
    qmp.handlers.set('blockdev-add', () => ({ return: {} }));
    qmp.handlers.set('device_add', (a) => (a?.bus === 'hp0' || a?.bus === 'hp1' ? taken : { return: {} }));
    expect(await vms.hotPlug(ID, { id: VOL, uri: URI })).toBe(true);
    expect(qmp.seen[0]).toEqual({ execute: 'blockdev-add', arguments: iscsiBlockdev({ id: VOL, uri: URI }) });
    expect(qmp.seen.slice(1).map((m) => m.arguments?.bus)).toEqual(['hp0', 'hp1', 'hp2']);
    expect(qmp.seen.at(-1)?.arguments).toEqual({ driver: 'virtio-blk-pci', drive: VOL, id: `dev-${VOL}`, bus: 'hp2', serial: 'vol0123456789abcdef0' });
    expect(qmp.connections).toBe(1);
  });

  it('leaves nothing of the disk in QEMU when every port is taken', async () => {
    qmp.handlers.set('blockdev-add', () => ({ return: {} }));
    qmp.handlers.set('device_add', () => taken);
    qmp.handlers.set('blockdev-del', () => ({ return: {} }));
    expect(await vms.hotPlug(ID, { id: VOL, uri: URI })).toBe(false);
    expect(qmp.commands()).toEqual(['blockdev-add', ...Array<string>(HOTPLUG_PORTS).fill('device_add'), 'blockdev-del']);
    expect(qmp.seen.at(-1)?.arguments).toEqual({ 'node-name': VOL });
  });

  it('does not plug a disk whose URL it cannot read, nor a disk QEMU cannot open', async () => {
    await expect(vms.hotPlug(ID, { id: VOL, uri: 'nfs://10.0.1.1/x' })).rejects.toThrow(/not an iSCSI URL/);
    expect(qmp.seen).toEqual([]);
    qmp.handlers.set('blockdev-add', () => ({ error: { class: 'GenericError', desc: 'Failed to connect to LUN' } }));
    await expect(vms.hotPlug(ID, { id: VOL, uri: URI })).rejects.toThrow(/Failed to connect to LUN/);
    expect(qmp.commands()).toEqual(['blockdev-add']);
  });

  it('unplugs: device_del, then blockdev-del until the guest has let go', async () => {
    let tries = 0;
    qmp.handlers.set('device_del', () => ({ return: {} }));
    qmp.handlers.set('blockdev-del', () => (++tries < 3 ? { error: { class: 'GenericError', desc: `Node ${VOL} is in use` } } : { return: {} }));
    expect(await vms.unplug(ID, VOL, 1000)).toBe(true);
    expect(qmp.seen[0]).toEqual({ execute: 'device_del', arguments: { id: `dev-${VOL}` } });
    expect(qmp.commands()).toEqual(['device_del', 'blockdev-del', 'blockdev-del', 'blockdev-del']);
  });

  it('an unplug the guest does not acknowledge is false after its wait, in as many tries as the wait holds pauses', async () => {
    qmp.handlers.set('blockdev-del', () => ({ error: { class: 'GenericError', desc: `Node ${VOL} is in use` } }));
    expect(await vms.unplug(ID, VOL, 5)).toBe(false);
    // device_del is refused too (CommandNotFound here): an unplug goes on to the node regardless.
    expect(qmp.commands()).toEqual(['device_del', ...Array<string>(5).fill('blockdev-del')]);
  });

  it('power button, reset and status', async () => {
    qmp.handlers.set('system_powerdown', () => ({ return: {} }));
    qmp.handlers.set('system_reset', () => ({ return: {} }));
    qmp.handlers.set('query-status', () => ({ return: { status: 'guest-panicked', running: false, singlestep: false } }));
    expect(await vms.powerButton(ID)).toBe(true);
    await vms.reset(ID);
    expect(await vms.status(ID)).toBe('guest-panicked');
    expect(qmp.commands()).toEqual(['system_powerdown', 'system_reset', 'query-status']);
  });

  it('a VM whose QEMU does not answer: no power button, no status, a reset fails', async () => {
    const other = 'i-0fedcba9876543210';
    expect(await vms.powerButton(other)).toBe(false);
    expect(await vms.status(other)).toBeUndefined();
    await expect(vms.reset(other)).rejects.toThrow();
    qmp.handlers.set('system_powerdown', () => ({ error: { class: 'GenericError', desc: 'no' } }));
    expect(await vms.powerButton(ID)).toBe(false);
  });

  it('a monitor answering what is not QMP ends the connection: no answer, and the server goes on', async () => {
    for (const raw of ['{"return": {"status": "running"\n', 'null\n', '"running"\n', `{"return": "${'x'.repeat(2 << 20)}`]) {
      qmp.handlers.set('query-status', () => ({ raw }));
      expect(await vms.status(ID)).toBeUndefined();
    }
    qmp.handlers.set('query-status', () => ({ return: { status: 'running', running: true } }));
    expect(await vms.status(ID)).toBe('running');
  });

  it('takes a screenshot from screendump as a JPEG, and removes the dump', async () => {
    let dumped = '';
    qmp.handlers.set('screendump', async (a) => {
      dumped = String(a?.filename);
      await writeFile(dumped, Buffer.concat([Buffer.from('P6\n4 2\n255\n'), Buffer.alloc(4 * 2 * 3, 0x80)]));
      return { return: {} };
    });
    const jpg = await vms.screenshot(ID);
    expect(jpeg.decode(jpg)).toMatchObject({ width: 4, height: 2 });
    expect(dumped.startsWith(`${vmRunDir(root, ID)}/`)).toBe(true);
    expect(existsSync(dumped)).toBe(false);
  });

  it('the display is the VNC socket beside QMP', () => {
    expect(vms.display(ID)).toBe(join(vmRunDir(root, ID), 'vnc.sock'));
  });
});
