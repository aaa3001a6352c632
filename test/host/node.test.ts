/**
 * The same container integration suite, run again inside the systemd test host, where PID 1 is systemd and pcloud
 * picks its systemd unit manager: instances become transient units that systemctl shows and machines machinectl lists.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { DATA, ensureImage } from '../support/real.js';
import { bootNode, exportImage, NODE_DIR, ROOT } from './node.js';

describe('inside the systemd test host', () => {
  it('the container integration suite passes under the systemd unit manager', async () => {
    const imageId = await ensureImage();
    const images = join(NODE_DIR, 'images');
    mkdirSync(images, { recursive: true });
    const tar = join(images, `debian-12-${imageId}.tar`);
    exportImage(join(DATA, 'pool/images', imageId), tar);
    const data = join(NODE_DIR, 'data');
    mkdirSync(data, { recursive: true });
    const node = await bootNode({ binds: [[ROOT, '/project'], [data, '/var/lib/pcloud-test'], [images, '/images']] });
    try {
      const pid1 = await node.exec(['cat', '/proc/1/comm']);
      expect(pid1.out.trim()).toBe('systemd');
      const res = await node.exec(['/usr/local/bin/node', 'node_modules/vitest/vitest.mjs', 'run', 'test/integration/containers.test.ts'], {
        cwd: '/project',
        env: {
          PCLOUD_TEST_DATA: '/var/lib/pcloud-test',
          PCLOUD_TEST_IMAGE_TAR: `/images/debian-12-${imageId}.tar`,
          PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
          CI: process.env.CI ?? '',
        },
      });
      console.log(res.out);
      expect(res.out).toContain('unit manager systemd (PID 1 is systemd)');
      expect(res.code).toBe(0);
    } finally {
      await node.stop();
    }
  }, 1_800_000);
});
