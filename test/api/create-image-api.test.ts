/**
 * CreateImage of a container whose root cannot make an image answers the client's error with what it can do (never a
 * 500, never a host path), leaves nothing behind, and reads nothing outside the instance's root.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateImageCommand, DescribeImagesCommand, DescribeInstancesCommand, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { startApi, until, type TestApi } from '../support/api.js';

let api: TestApi;
beforeAll(async () => {
  api = await startApi();
  // The fake pool has no instance disks to snapshot: CreateImage copies the instance's directory as the real pool's
  // snapshot would (links and device nodes as they are).
  Object.assign(api.pool, {
    async imageRootFromDisk(id: string, name: string) {
      const path = join(api.pool.root, 'images', name);
      execFileSync('cp', ['-a', api.pool.diskPath(id), path]);
      return path;
    },
  });
});
afterAll(async () => { await api?.close(); });

async function failure(p: Promise<unknown>): Promise<{ code?: string; message: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    const err = e as { Code?: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { code: err.Code, message: err.message, status: err.$metadata?.httpStatusCode };
  }
  return { message: 'no error' };
}

async function launch(): Promise<string> {
  const res = await api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
  const id = res.Instances![0]!.InstanceId!;
  await until(async () => (await api.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0]?.State?.Name === 'running');
  return id;
}

const images = () => readdirSync(join(api.pool.root, 'images')).sort();
const owned = async () => (await api.ec2.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images ?? [];

describe('CreateImage of a container', () => {
  it("refuses a container whose files were shifted into its user range (no idmapped mounts) with UnsupportedOperation, saying what to do", async () => {
    const id = await launch();
    try {
      chownSync(api.pool.diskPath(id), 1684209664, 1684209664); // as nspawn --private-users-ownership=chown leaves a fork
      const before = images();
      const err = await failure(api.ec2.send(new CreateImageCommand({ InstanceId: id, Name: 'shifted' })));
      expect(err).toMatchObject({ code: 'UnsupportedOperation', status: 400 });
      expect(err.message).toContain(id);
      expect(err.message).toMatch(/VM instance type/);
      expect(err.message).not.toContain(api.pool.root);
      expect(images()).toEqual(before);
      expect(await owned()).toEqual([]);
    } finally {
      await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    }
  });

  it('refuses a root whose /boot links to host files with UnsupportedOperation naming the link, copying nothing of the host', async () => {
    const id = await launch();
    try {
      const disk = api.pool.diskPath(id);
      const host = join(api.pool.root, '..', `host-${id}`);
      mkdirSync(host);
      writeFileSync(join(host, 'shadow'), 'host secret\n');
      mkdirSync(join(disk, 'boot'));
      writeFileSync(join(disk, 'boot/vmlinuz-6.1.0-1-cloud-amd64'), 'kernel');
      symlinkSync(join(host, 'shadow'), join(disk, 'boot/initrd.img-6.1.0-1-cloud-amd64'));
      const before = images();
      const err = await failure(api.ec2.send(new CreateImageCommand({ InstanceId: id, Name: 'linked-boot' })));
      expect(err).toMatchObject({ code: 'UnsupportedOperation', status: 400 });
      expect(err.message).toContain("/boot/initrd.img-6.1.0-1-cloud-amd64 is a symbolic link");
      expect(err.message).not.toContain(host);
      // Nothing left: no image root, no VM directory (no initrd copied from the host), no image row.
      expect(images()).toEqual(before);
      expect(images().some((n) => n.endsWith('.vm'))).toBe(false);
      expect(await owned()).toEqual([]);
      expect(existsSync(join(host, 'shadow'))).toBe(true);
    } finally {
      await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    }
  });

  it("escapes the control characters of the root's own file names in the error it answers", async () => {
    const id = await launch();
    try {
      const disk = api.pool.diskPath(id);
      mkdirSync(join(disk, 'boot'));
      writeFileSync(join(disk, 'boot/vmlinuz-6.1\x01\n'), 'kernel');
      symlinkSync('/etc/shadow', join(disk, 'boot/initrd.img-6.1\x01\n'));
      const err = await failure(api.ec2.send(new CreateImageCommand({ InstanceId: id, Name: 'control-chars' })));
      expect(err).toMatchObject({ code: 'UnsupportedOperation', status: 400 });
      expect(err.message).toContain('/boot/initrd.img-6.1\\x01\\x0a is a symbolic link');
    } finally {
      await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    }
  });

  it('makes an image of a plain container root, its device nodes removed', async () => {
    const id = await launch();
    try {
      const disk = api.pool.diskPath(id);
      mkdirSync(join(disk, 'var'), { recursive: true });
      writeFileSync(join(disk, 'var/kept'), 'kept');
      execFileSync('mknod', ['-m', '666', join(disk, 'var/sda'), 'b', '8', '0']);
      const { ImageId } = await api.ec2.send(new CreateImageCommand({ InstanceId: id, Name: 'plain-root' }));
      expect(ImageId).toMatch(/^ami-/);
      expect((await owned()).map((i) => i.ImageId)).toEqual([ImageId]);
      const root = join(api.pool.root, 'images', images().find((n) => n.startsWith(`.create-${id}`))!); // the fake pool seals in place
      expect(readFileSync(join(root, 'var/kept'), 'utf8')).toBe('kept');
      expect(existsSync(join(root, 'var/sda'))).toBe(false);
    } finally {
      await api.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    }
  });
});
