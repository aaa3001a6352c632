/**
 * Cross-host vs same-host latency inside one VPC: two systemd test hosts on an underlay (test/host/vxlan-nodes.ts),
 * instances a1 and a2 on host A and b1 on host B, the routers joined over VXLAN. From a1: ICMP round trips (ping) and
 * HTTP requests on a new TCP connection each (Python's http.client to Python's http.server), to a2 (same host: one
 * router) and to b1 (across: two routers and the underlay), interleaved so both see the same load. Figures, not
 * assertions. `node dist/bench/vxlan.js` (after `npm run build`) runs it alone; BENCH_VXLAN_REQUESTS (200).
 */
import { pathToFileURL } from 'node:url';
import { bootPair } from '../test/host/vxlan-nodes.js';
import { round, table, writeResult } from './lib.js';

const VPC = 'vpc-0be000000000000f1';
const GW = '10.0.1.1';
const nic = (instanceId: string, ip: string, n: number) => ({
  instanceId, vpcId: VPC, ip, prefixLength: 24, gateway: GW, mac: `0e:00:00:00:00:${n.toString(16).padStart(2, '0')}`,
});
const OPEN = [{ protocol: '-1', cidrs: ['0.0.0.0/0'] }];

const PROBE = `
import http.client, json, subprocess, sys, time
n, targets = int(sys.argv[1]), sys.argv[2:]
def once(host):
    t = time.perf_counter()
    c = http.client.HTTPConnection(host, 8080, timeout=5)
    c.request('GET', '/who'); c.getresponse().read(); c.close()
    return (time.perf_counter() - t) * 1000
for h in targets:
    for _ in range(20): once(h)
http_ms = {h: [] for h in targets}
for _ in range(n):
    for h in targets: http_ms[h].append(once(h))
def rtt(h):
    out = subprocess.run(['ping', '-q', '-n', '-c', str(n), '-i', '0.01', h], capture_output=True, text=True).stdout
    return float(out.strip().split('\\n')[-1].split('=')[1].split('/')[1])
print('RESULT ' + json.dumps({'http': http_ms, 'ping': {h: rtt(h) for h in targets}}))
`;

const pct = (xs: number[], p: number) => { const s = [...xs].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))]!; };

export async function benchVxlan(opts: { requests: number }) {
  const pair = await bootPair();
  try {
    const a1 = nic('i-0a10000000000000a', '10.0.1.10', 1);
    const a2 = nic('i-0a20000000000000a', '10.0.1.11', 2);
    const b1 = nic('i-0b10000000000000b', '10.0.1.20', 3);
    const rules = (ns: typeof a1[]) => ns.map((n) => ({ instanceId: n.instanceId, ip: n.ip, ingress: OPEN, egress: OPEN }));
    const vpc: [string, ...unknown[]] = ['ensureVpc', VPC, [{ address: GW, prefixLength: 24 }]];
    await pair.a.calls([vpc, ['attach', a1], ['attach', a2], ['applyFirewall', VPC, rules([a1, a2])],
      ['joinVpc', VPC, { vni: 7, local: pair.a.underlay, peers: [{ host: pair.b.underlay, instances: [{ ip: b1.ip }] }] }]]);
    await pair.b.calls([vpc, ['attach', b1], ['applyFirewall', VPC, rules([b1])],
      ['joinVpc', VPC, { vni: 7, local: pair.b.underlay, peers: [{ host: pair.a.underlay, instances: [{ ip: a1.ip }, { ip: a2.ip }] }] }]]);
    await pair.a.serve(a2.instanceId, a2.ip, 'a2');
    await pair.b.serve(b1.instanceId, b1.ip, 'b1');
    const res = await pair.a.node.exec(['ip', 'netns', 'exec', `pcloud-${a1.instanceId}`, 'python3', '-c', PROBE, String(opts.requests), a2.ip, b1.ip],
      { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
    if (res.code !== 0) throw new Error(`probe failed: ${res.out}`);
    const out = JSON.parse(res.out.split('\n').find((l) => l.startsWith('RESULT '))!.slice(7)) as { http: Record<string, number[]>; ping: Record<string, number> };
    const fig = (ip: string) => ({ httpP50: round(pct(out.http[ip]!, 50)), httpP95: round(pct(out.http[ip]!, 95)), pingAvg: round(out.ping[ip]!, 3) });
    const same = fig(a2.ip);
    const cross = fig(b1.ip);
    return { requests: opts.requests, sameHost: same, crossHost: cross, ratioHttpP50: round(cross.httpP50 / same.httpP50), ratioPing: round(cross.pingAvg / same.pingAvg) };
  } finally {
    await pair.stop();
  }
}

/** The figures as a table, printed, and written to bench/results (`npm run bench vxlan` and this file alone). */
export function reportVxlan(r: Awaited<ReturnType<typeof benchVxlan>>, title: string): void {
  console.log(`\n${title}`);
  console.log(table([
    ['', 'HTTP p50', 'HTTP p95', 'ping avg'],
    ['same host', r.sameHost.httpP50, r.sameHost.httpP95, r.sameHost.pingAvg],
    ['across hosts', r.crossHost.httpP50, r.crossHost.httpP95, r.crossHost.pingAvg],
    ['across / same', r.ratioHttpP50, '', r.ratioPing],
  ]));
  console.log('written to', writeResult('vxlan', r));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  reportVxlan(await benchVxlan({ requests: Number(process.env.BENCH_VXLAN_REQUESTS ?? 200) }), 'Instance to instance in one VPC, same host vs across hosts over VXLAN (ms)');
}
