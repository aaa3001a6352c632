/**
 * Network namespaces are host-wide: each records the data dir that made it, and a server sees (and reconciles) only
 * its own, so two data dirs on one host leave each other's routers and instances alone. Real `ip netns` here.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NetworkDriver } from '../../src/host/network.js';
import { OWNERS_ROOT } from '../../src/host/owners.js';

const NETNS_OWNERS = join(OWNERS_ROOT, 'netns');

const stamp = Date.now().toString(16).slice(-8).padStart(8, '0');
const vpcA = `vpc-${stamp}aaaaaaaaa`;
const legacy = `vpc-${stamp}bbbbbbbbb`;
const netns = () => execFileSync('ip', ['netns', 'list']).toString();

afterAll(() => {
  for (const v of [vpcA, legacy]) execFileSync('sh', ['-c', `ip netns del pcloud-${v} 2>/dev/null; rm -f ${join(NETNS_OWNERS, `pcloud-${v}`)}; true`]);
});

describe('network namespaces belong to a data dir', () => {
  const a = new NetworkDriver('/var/tmp/owner-a');
  const b = new NetworkDriver('/var/tmp/owner-b');

  it('a router made for one data dir is that data dir\'s only, and goes with its owner record', async () => {
    await a.ensureVpc(vpcA, [{ address: '10.250.0.1', prefixLength: 24 }]);
    expect(netns()).toContain(`pcloud-${vpcA}`);
    expect(readFileSync(join(NETNS_OWNERS, `pcloud-${vpcA}`), 'utf8')).toBe('/var/tmp/owner-a');
    expect(await a.namespaces()).toContain(`pcloud-${vpcA}`);
    expect(await b.namespaces()).not.toContain(`pcloud-${vpcA}`);
    await a.removeVpc(vpcA);
    expect(netns()).not.toContain(`pcloud-${vpcA}`);
    expect(existsSync(join(NETNS_OWNERS, `pcloud-${vpcA}`))).toBe(false);
  });

  it('a namespace with no owner recorded (made by an older pcloud) is claimed by the first server that looks', async () => {
    execFileSync('ip', ['netns', 'add', `pcloud-${legacy}`]);
    expect(await b.namespaces()).toContain(`pcloud-${legacy}`);
    expect(await a.namespaces()).not.toContain(`pcloud-${legacy}`);
  });
});
