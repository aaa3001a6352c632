/**
 * Two systemd test hosts on an underlay, for the VXLAN overlay's real test (test/host/vxlan.test.ts) and its bench
 * (bench/vxlan.ts). The underlay is nothing of the host's own network: a bridge in a namespace of the test's
 * (`pcvx-under`), and in each booted node (its private network) a veth `u0` on that bridge, addressed in
 * 192.168.213.0/24. (A node booted in a namespace made for it, --network-namespace-path, has /proc/sys/net read-only.)
 * Inside, pcloud's compiled NetworkDriver (dist/) makes the VPC routers and instance namespaces, as the domain would.
 */
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/host/exec.js';
import { bootNode, ROOT, type Node } from './node.js';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const UNDER = 'pcvx-under';
export const UNDERLAY = { a: '192.168.213.1', b: '192.168.213.2' } as const;
export type Side = keyof typeof UNDERLAY;

export interface Pair {
  a: HostNode;
  b: HostNode;
  stop(): Promise<void>;
}

export interface HostNode {
  node: Node;
  underlay: string;
  /** A NetworkDriver method called inside the node (its result, as JSON). */
  net(method: string, ...args: unknown[]): Promise<unknown>;
  /** Several such calls in order, in one process (their results). */
  calls(list: [string, ...unknown[]][]): Promise<unknown[]>;
  /** A shell command inside the node (exit code and output). */
  sh(script: string): Promise<{ code: number; out: string }>;
  /** An HTTP GET from an instance's namespace: the body, or '' when nothing answered within 2 s. */
  get(instanceId: string, url: string): Promise<string>;
  /** The size of what an HTTP GET from an instance's namespace received (0 on failure). */
  size(instanceId: string, url: string): Promise<number>;
  /** A web server in the instance's namespace answering GET /who with `who` (and /big with 300 kB). */
  serve(instanceId: string, ip: string, who: string): Promise<void>;
}

/** This machine's own address on the underlay, when a test gives it a leg (bootPair's hostLeg): a control plane's. */
export const HOST_UNDERLAY = '192.168.213.254';
const HOST_LEG = 'pcvx-host';

/**
 * The underlay's bridge, and a leg of it into each node's network namespace (by its leader's PID), addressed; with
 * `hostLeg`, one into this machine's too (HOST_UNDERLAY).
 */
async function underlay(nodes: Record<Side, Node>, hostLeg = false): Promise<void> {
  const batch = async (ns: string | undefined, lines: string[]) => {
    await run('ip', [...(ns ? ['-n', ns] : []), '-batch', '-'], { input: lines.join('\n') + '\n' });
  };
  await run('ip', ['netns', 'add', UNDER]);
  await batch(UNDER, ['link add br0 type bridge', 'link set br0 up', 'link set lo up']);
  for (const side of ['a', 'b'] as const) {
    await batch(UNDER, [`link add u-${side} type veth peer name u0 netns ${nodes[side].leader}`, `link set u-${side} master br0`, `link set u-${side} up`]);
    const res = await nodes[side].exec(['sh', '-c', `ip addr add ${UNDERLAY[side]}/24 dev u0 && ip link set u0 up`]);
    if (res.code !== 0) throw new Error(`underlay in node ${side}: ${res.out}`);
  }
  if (hostLeg) {
    await batch(UNDER, [`link add u-host type veth peer name ${HOST_LEG} netns 1`, 'link set u-host master br0', 'link set u-host up']);
    await batch(undefined, [`addr add ${HOST_UNDERLAY}/24 dev ${HOST_LEG}`, `link set ${HOST_LEG} up`]);
  }
}

async function teardown(): Promise<void> {
  await run('ip', ['netns', 'del', UNDER], { reject: false });
  await run('ip', ['link', 'del', HOST_LEG], { reject: false });
}

function hostNode(node: Node, side: Side): HostNode {
  const sh = (script: string) => node.exec(['sh', '-c', script], { env: { PATH } });
  return {
    node, underlay: UNDERLAY[side], sh,
    async net(method, ...args) {
      return (await this.calls([[method, ...args]]))[0];
    },
    async calls(list) {
      const script = `
        import { NetworkDriver } from '/project/dist/src/host/network.js';
        const net = new NetworkDriver('/var/lib/pcloud-vx');
        const out = [];
        for (const [method, ...args] of JSON.parse(process.env.CALLS)) out.push(await net[method](...args) ?? null);
        console.log('RESULT ' + JSON.stringify(out));`;
      const res = await node.exec(['/usr/local/bin/node', '--input-type=module', '-e', script], {
        cwd: '/project', env: { PATH, CALLS: JSON.stringify(list) },
      });
      if (res.code !== 0) throw new Error(`${list.map((c) => c[0]).join(', ')} in node ${side} failed: ${res.out}`);
      return JSON.parse(res.out.split('\n').find((l) => l.startsWith('RESULT '))!.slice(7)) as unknown[];
    },
    async get(instanceId, url) {
      const res = await sh(`ip netns exec pcloud-${instanceId} curl -sf -m 2 ${url}`);
      return res.code === 0 ? res.out.trim() : '';
    },
    async size(instanceId, url) {
      const res = await sh(`ip netns exec pcloud-${instanceId} curl -sf -m 5 -o /dev/null -w '%{size_download}' ${url}`);
      return res.code === 0 ? Number(res.out.trim()) : 0;
    },
    async serve(instanceId, ip, who) {
      const dir = `/srv/${instanceId}`;
      const res = await sh(`mkdir -p ${dir} && echo ${who} > ${dir}/who && head -c 300000 /dev/urandom > ${dir}/big && systemd-run --quiet --unit=web-${instanceId} `
        + `ip netns exec pcloud-${instanceId} python3 -m http.server 8080 --bind ${ip} --directory ${dir}`);
      if (res.code !== 0) throw new Error(`web server in ${instanceId}: ${res.out}`);
      // Listening once its socket is there.
      for (let i = 0; i < 100; i++) {
        if ((await sh(`ip netns exec pcloud-${instanceId} ss -Htln 'sport = :8080' | grep -q LISTEN`)).code === 0) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`web server in ${instanceId} did not listen`);
    },
  };
}

/**
 * The underlay and the two nodes on it, booted (this checkout and its node_modules bound at /project, and `binds`);
 * `hostLeg`: this machine on the underlay too (HOST_UNDERLAY); `fresh`: each node's own dirs, emptied (bootNode's).
 */
export async function bootPair(opts: { hostLeg?: boolean; binds?: (side: Side) => [string, string][]; fresh?: (side: Side) => string[] } = {}): Promise<Pair> {
  await teardown();
  const modules = realpathSync(join(ROOT, 'node_modules'));
  const binds: [string, string][] = [[ROOT, '/project'], ...(modules === join(ROOT, 'node_modules') ? [] : [[modules, modules] as [string, string]])];
  const nodes: Node[] = [];
  try {
    for (const side of ['a', 'b'] as const) {
      nodes.push(await bootNode({ binds: [...binds, ...(opts.binds?.(side) ?? [])], fresh: opts.fresh?.(side), name: `pcloud-vx-${side}` }));
    }
    await underlay({ a: nodes[0]!, b: nodes[1]! }, opts.hostLeg);
  } catch (err) {
    for (const n of nodes) await n.stop();
    await teardown();
    throw err;
  }
  return {
    a: hostNode(nodes[0]!, 'a'), b: hostNode(nodes[1]!, 'b'),
    async stop() {
      for (const n of nodes) await n.stop().catch(() => undefined);
      await teardown();
    },
  };
}
