/**
 * `GET /pcloud/hosts/images/<ami-id>` on the control plane (issue 17): only a joined host's key gets an image, as a
 * tar (real tar over the test image's files) whose sha256 the answer names and the image's row records; a second
 * request is served from the cached tar (no tar runs again).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { pcloudRoute } from '../../src/api/calls.js';
import { newId } from '../../src/cloud/ids.js';
import { SYSTEM_ACCOUNT } from '../../src/cloud/images.js';
import { images } from '../../src/db/tables.js';
import { recordCommands, type CommandRecord } from '../../src/host/exec.js';
import { startApi, type TestApi } from '../support/api.js';
import { hostKey, writeTestImage } from '../support/host-images.js';

let api: TestApi;
let key: string;

beforeAll(async () => {
  api = await startApi();
  await writeTestImage(api.pool, api.imageId);
  key = await hostKey(api.cloud.db, 'host-b');
});
afterAll(() => api.close());

const get = (id: string, authorization?: string) =>
  fetch(`${api.endpoint}/pcloud/hosts/images/${id}`, { headers: authorization ? { authorization } : {} });

describe('GET /pcloud/hosts/images/<ami-id>', () => {
  it('refuses anyone without a host key, saying what to send, and nothing of the image', async () => {
    const wrongKey = `pcloud-host-${'A'.repeat(43)}`;
    for (const authorization of [undefined, `Bearer ${wrongKey}`, `Basic ${Buffer.from(`x:${key}`).toString('base64')}`, key, 'Bearer AKIDAPITEST']) {
      const res = await get(api.imageId, authorization);
      expect(res.status).toBe(403);
      expect(res.headers.get('x-pcloud-content-sha256')).toBeNull();
      const body = await res.json() as { code: string; message: string };
      expect(body.code).toBe('AuthFailure');
      expect(body.message).toContain('Authorization: Bearer <host key>');
    }
  });

  it('answers the image as a tar whose sha256 it names and records; again from the cache', async () => {
    const commands: CommandRecord[] = [];
    const stop = recordCommands(commands);
    try {
      const res = await get(api.imageId, `Bearer ${key}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/x-tar');
      const tar = Buffer.from(await res.arrayBuffer());
      const sha = createHash('sha256').update(tar).digest('hex');
      expect(res.headers.get('x-pcloud-content-sha256')).toBe(sha);
      const row = (await api.cloud.db.select().from(images).where(eq(images.id, api.imageId)))[0]!;
      expect(row.contentSha256).toBe(sha);
      // The root under root/, the VM files under vm/ (the 1 GiB disk sent sparse: the tar is small).
      const file = join(await mkdtemp(join(tmpdir(), 'pcloud-export-')), 'image.tar');
      await writeFile(file, tar);
      const members = execFileSync('tar', ['-tf', file]).toString().split('\n');
      expect(members).toEqual(expect.arrayContaining(['root/', 'root/etc/pcloud-test-image', 'root/usr/bin/sudo', 'vm/', 'vm/vmlinux', 'vm/disk.raw']));
      expect(tar.length).toBeLessThan(1 << 20);
      const made = commands.filter((c) => c.file === 'tar').length;
      expect(made).toBeGreaterThan(0);

      const again = await get(api.imageId, `Bearer ${key}`);
      expect(again.status).toBe(200);
      expect(again.headers.get('x-pcloud-content-sha256')).toBe(sha);
      expect(Buffer.from(await again.arrayBuffer()).equals(tar)).toBe(true);
      expect(commands.filter((c) => c.file === 'tar').length).toBe(made);
    } finally {
      stop();
    }
  });

  it('says which image it does not have: unknown, malformed, or its files on another server', async () => {
    const unknown = await get(newId('ami'), `Bearer ${key}`);
    expect([unknown.status, ((await unknown.json()) as { code: string }).code]).toEqual([404, 'InvalidAMIID.NotFound']);
    for (const id of ['ami-XYZ', 'ami-..', 'i-0123456789abcdef0', `ami-${'0'.repeat(40)}`]) {
      const malformed = await get(id, `Bearer ${key}`);
      expect([malformed.status, ((await malformed.json()) as { code: string }).code]).toEqual([404, 'InvalidAMIID.Malformed']);
    }
    const elsewhere = newId('ami');
    await api.cloud.db.insert(images).values({
      id: elsewhere, ownerId: SYSTEM_ACCOUNT, name: 'built-elsewhere', architecture: 'x86_64', state: 'available',
      rootPath: '/var/lib/pcloud/pool/images/elsewhere', source: 'test', createdAt: Date.now(),
    });
    const res = await get(elsewhere, `Bearer ${key}`);
    const body = await res.json() as { code: string; message: string };
    expect([res.status, body.code]).toEqual([409, 'IncorrectState']);
    expect(body.message).toMatch(/not on this server/);
    expect(body.message).not.toContain('/var/lib');
  });

  it('is named in the access log', () => {
    expect(pcloudRoute(`/pcloud/hosts/images/${api.imageId}`)).toEqual({ action: 'HostImage' });
  });
});
