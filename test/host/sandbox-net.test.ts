/**
 * The host's filter of Lambda handlers' traffic (src/host/sandbox-net.ts) on this machine's nftables: servers add the
 * API ports their handlers may reach, and a server that stops withdraws its own, leaving the others'. What a handler
 * reaches through it is test/integration/lambda.test.ts' (a real function's connections).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { applySandboxNet, withdrawSandboxPorts } from '../../src/host/sandbox-net.js';

const ports = () => {
  const out = spawnSync('nft', ['-j', 'list', 'set', 'inet', 'pcloud_sandbox', 'api_ports'], { encoding: 'utf8' }).stdout;
  const set = (JSON.parse(out) as { nftables: { set?: { elem?: number[] } }[] }).nftables.find((e) => e.set)?.set;
  return set?.elem ?? [];
};

describe("the host's filter of handlers' traffic", () => {
  it('keeps every server\'s API port until that server withdraws its own', async () => {
    // Ports no test server listens on (they are ephemeral ones, from 32768).
    await applySandboxNet([1701]);
    await applySandboxNet([1702]);
    expect(ports()).toEqual(expect.arrayContaining([1701, 1702]));
    await withdrawSandboxPorts([1701]);
    expect(ports()).toContain(1702);
    expect(ports()).not.toContain(1701);
    // Withdrawn twice, or never added: nothing fails.
    await withdrawSandboxPorts([1701, 1702]);
    expect(ports()).not.toContain(1702);
  });
});
