/** The metadata service against hostile paths and headers (issue 12): 4xx as EC2's IMDS answers, never a 5xx. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { startApi, type TestApi } from '../support/api.js';
import { imdsFor, type ImdsAsk } from '../support/imds.js';

let api: TestApi;
let ask: ImdsAsk;
beforeAll(async () => {
  api = await startApi();
  const run = await api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1 }));
  ask = imdsFor(api.cloud, await api.cloud.instances.get('111111111111', run.Instances![0]!.InstanceId!));
});
afterAll(async () => { await api?.close(); });

describe('IMDS paths', () => {
  it('bad %-encoding is 400 Bad Request, not a 500', async () => {
    for (const path of ['/latest/meta-data/%zz', '/%', '/latest/%E0%A4%A', '/latest/dynamic/%zz/x', '/latest/user-data%ff%fe']) {
      const res = await ask('GET', path);
      expect(res.status, path).toBe(400);
      expect(res.text).toContain('400 - Bad Request');
    }
  });

  it('Object.prototype names and odd segments are 404s; the tree still answers', async () => {
    for (const path of ['/latest/meta-data/__proto__', '/latest/meta-data/constructor/', '/latest/meta-data/toString', '/latest/dynamic/hasOwnProperty',
      '/__proto__', '/latest/meta-data/public-keys/0/constructor', '/latest/meta-data/%00', '/latest/meta-data/../../etc/passwd']) {
      expect((await ask('GET', path)).status, path).toBe(404);
    }
    const md = await ask('GET', '/latest/meta-data/instance-id');
    expect(md.status).toBe(200);
    expect(md.text).toMatch(/^i-/);
  });
});
