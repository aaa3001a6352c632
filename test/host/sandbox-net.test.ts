/**
 * The host's filter of Lambda handlers' traffic (src/host/sandbox-net.ts) on this machine's nftables, with processes
 * of the sandbox range's users made here (setpriv): a user of the range reaches a service of the host's on none of its
 * addresses, its own port (its Runtime API's) and not another user's; servers add the API ports their handlers may
 * reach, and one that stops withdraws its own, leaving the others'. A real function's connections: lambda.test.ts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySandboxNet, SandboxNet, withdrawSandboxPorts } from '../../src/host/sandbox-net.js';
import { until } from '../support/api.js';

const ports = () => {
  const out = spawnSync('nft', ['-j', 'list', 'set', 'inet', 'pcloud_sandbox', 'api_ports'], { encoding: 'utf8' }).stdout;
  const set = (JSON.parse(out) as { nftables: { set?: { elem?: number[] } }[] }).nftables.find((e) => e.set)?.set;
  return set?.elem ?? [];
};

const PY = '/usr/bin/python3';
const as = (uid: number) => ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--'];
/** Whether a TCP connection from `uid` (root: 0) to address:port opens. */
const connects = (uid: number, address: string, port: number) => {
  const cmd = [...(uid ? as(uid) : []), PY, '-c', `import socket\nsocket.create_connection(("${address}", ${port}), timeout=3).close()`];
  return spawnSync(cmd[0]!, cmd.slice(1)).status === 0;
};
const listen = (uid: number, address: string, port: number): ChildProcess => {
  const cmd = [...(uid ? as(uid) : []), PY, '-c', `import socket, time\ns = socket.socket()\ns.bind(("${address}", ${port}))\ns.listen(8)\nwhile True: s.accept()[0].close()`];
  return spawn(cmd[0]!, cmd.slice(1), { stdio: 'ignore' });
};

const OWN = 61_300;
const OTHER = 61_301;
const HOST_PORT = 1703;
const listeners: ChildProcess[] = [];
beforeAll(async () => {
  await applySandboxNet([]);
  listeners.push(listen(OWN, '127.9.9.9', OWN), listen(0, '0.0.0.0', HOST_PORT));
  await until(() => connects(0, '127.9.9.9', OWN) && connects(0, '127.0.0.1', HOST_PORT), 10_000, 100);
});
afterAll(() => { for (const l of listeners) l.kill(); });

describe("the host's filter of handlers' traffic", () => {
  it("a user of the range reaches none of the host's services, and its own port but no other user's", () => {
    expect(connects(OTHER, '127.0.0.1', HOST_PORT)).toBe(false);
    expect(connects(OWN, '127.9.9.9', OWN)).toBe(true);
    expect(connects(OTHER, '127.9.9.9', OWN)).toBe(false);
    // The host's own processes, as before.
    expect(connects(0, '127.0.0.1', HOST_PORT)).toBe(true);
  });

  it('keeps every server\'s API port until that server withdraws its own', async () => {
    // Two servers' parts; ports no test server listens on (theirs are ephemeral ones, from 32768).
    const [a, b] = [new SandboxNet(), new SandboxNet()];
    await a.ensure([1701, undefined]);
    await b.ensure([1702]);
    await a.ensure([1705]);
    expect(ports()).toEqual(expect.arrayContaining([1701, 1702, 1705]));
    await a.close();
    expect(ports()).toContain(1702);
    expect(ports()).not.toContain(1701);
    expect(ports()).not.toContain(1705);
    // The table is there: nothing to write again.
    await b.keep();
    expect(ports()).toContain(1702);
    await b.close();
    expect(ports()).not.toContain(1702);
    // Withdrawn twice, or never added: nothing fails.
    await withdrawSandboxPorts([1701, 1702]);
    expect(ports()).not.toContain(1702);
  });
});
