/**
 * Networks: the host-side setup time of one instance's network (namespace, veth on the VPC bridge, address, route),
 * one at a time and 20 at once; and the launch of a fleet with networking next to the same launch without it.
 */
import { NetworkDriver } from '../src/host/network.js';
import { newId } from '../src/cloud/ids.js';
import { ensureImage, runningAfter, startServer, BENCH_CREDS } from './launch.js';
import { round, summary } from './lib.js';

export async function benchNetwork(opts: { dataDir: string; fleet: number }) {
  const net = new NetworkDriver(opts.dataDir);
  const vpcId = 'vpc-0bench0000000000';
  await net.ensureVpc(vpcId, [{ address: '10.77.0.1', prefixLength: 16 }]);
  const ids = Array.from({ length: opts.fleet }, () => newId('i'));
  const nic = (id: string, i: number) => ({ instanceId: id, vpcId, ip: `10.77.0.${i + 4}`, prefixLength: 16, gateway: '10.77.0.1', mac: `0e:00:00:00:00:${(i + 4).toString(16).padStart(2, '0')}` });
  const one: number[] = [];
  try {
    for (const [i, id] of ids.entries()) {
      const t = performance.now();
      await net.attach(nic(id, i));
      one.push(performance.now() - t);
    }
    await Promise.all(ids.map((id) => net.detach(id)));
    const t0 = performance.now();
    await Promise.all(ids.map((id, i) => net.attach(nic(id, i))));
    const concurrentMs = performance.now() - t0;
    await Promise.all(ids.map((id) => net.detach(id)));

    const imageId = await ensureImage(opts.dataDir);
    const launches: Record<string, ReturnType<typeof summary> & { wallMs: number }> = {};
    for (const mode of ['none', 'vpc'] as const) {
      const server = await startServer(opts.dataDir, { PCLOUD_NETWORKING: mode });
      try {
        const times = await runningAfter(server.endpoint, BENCH_CREDS, opts.fleet, imageId);
        launches[mode] = { ...summary(times), wallMs: round(Math.max(...times)) };
      } finally {
        await server.stop();
      }
    }
    return {
      setupPerInstanceMs: summary(one),
      setupConcurrent: { count: opts.fleet, wallMs: round(concurrentMs), perInstanceMs: round(concurrentMs / opts.fleet) },
      launch: { count: opts.fleet, withoutNetwork: launches.none!, withNetwork: launches.vpc!, ratioP50: round(launches.vpc!.p50 / launches.none!.p50) },
    };
  } finally {
    await Promise.all(ids.map((id) => net.detach(id)));
    await net.removeVpc(vpcId);
  }
}
