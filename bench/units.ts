/**
 * Instance launch under the systemd unit manager (inside the systemd test node) next to the direct manager (on this
 * host), in the same run: the same launch benchmark, run in both places.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bootNode, exportImage, NODE_DIR, ROOT } from '../test/host/node.js';
import { benchLaunch, ensureImage } from './launch.js';
import { round } from './lib.js';

export async function benchUnits(opts: { dataDir: string; runs: number; fleet: number }) {
  const direct = await benchLaunch(opts);
  const imageId = await ensureImage(opts.dataDir);
  const images = join(NODE_DIR, 'images');
  mkdirSync(images, { recursive: true });
  const tar = join(images, `debian-12-${imageId}.tar`);
  exportImage(join(opts.dataDir, 'pool/images', imageId), tar);
  const data = join(NODE_DIR, 'bench-data');
  mkdirSync(data, { recursive: true });
  const node = await bootNode({ binds: [[ROOT, '/project'], [data, '/var/lib/pcloud-bench'], [images, '/images']] });
  try {
    const res = await node.exec(['/usr/local/bin/node', 'dist/bench/run.js', 'launch'], {
      cwd: '/project',
      env: {
        PCLOUD_BENCH_DATA: '/var/lib/pcloud-bench', PCLOUD_BENCH_IMAGE_TAR: `/images/debian-12-${imageId}.tar`,
        BENCH_RUNS: String(opts.runs), BENCH_FLEET: String(opts.fleet), BENCH_RESULT: 'launch-systemd-node',
        PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      },
    });
    if (res.code !== 0) throw new Error(`bench inside the node failed:\n${res.out}`);
    const systemd = JSON.parse(readFileSync(join(ROOT, 'bench/results/launch-systemd-node.json'), 'utf8')) as typeof direct;
    return {
      direct, systemd,
      ratio: {
        one: round(systemd.one.pcloud.p50 / direct.one.pcloud.p50),
        fleet: round(systemd.fleet.pcloud.p50 / direct.fleet.pcloud.p50),
      },
    };
  } finally {
    await node.stop();
  }
}
