/**
 * API errors never expose host internals (issue 15): a fake host fails with a hostile ExecaError (an nsenter command
 * line, a PID, 10.x, 169.254.x and IPv6 addresses, a path under the data dir, stderr) in AttachVolume, RunInstances,
 * CreateImage, CreateFunction and Invoke; none of it reaches a response. What the user can act on says what to do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { startApi, until, type TestApi } from '../support/api.js';
import { failNext } from '../support/fake-host.js';
import { NfsMountError } from '../../src/host/nfs.js';
import { PackageRefused } from '../../src/host/code-package.js';
import { lambdaRole } from '../support/roles.js';

let api: TestApi;
beforeAll(async () => { api = await startApi(); });
afterAll(async () => { await api?.close(); });

const SECRETS = ['nsenter', '48213', '10.213.0.1', '169.254.77.1', 'fd00:7:1::2', '/var/lib/pcloud', '-m -- mount', 'Command failed', 'pcloud-fake-', 'pcloud-api-'];
const leaks = (text: string) => SECRETS.filter((s) => text.includes(s));

/** A real ExecaError, as a driver's failed command makes it (sh stands in for nsenter: the same arguments, quoted back). */
async function hostile(): Promise<Error> {
  const script = `echo "mount.nfs4: mounting 10.213.0.1:/vol-1 failed (via 169.254.77.1, fd00:7:1::2) in ${api.pool.root}" >&2; exit 32`;
  const err = await execa('sh', ['-c', script, 'nsenter', '-t', '48213', '-m', '--', 'mount', '-t', 'nfs4', '10.213.0.1:/vol-1', '/var/lib/pcloud/volumes/vol-1'])
    .then(() => undefined, (e: Error) => e);
  if (!err) throw new Error('sh did not fail');
  expect(leaks(err.message).length).toBeGreaterThan(5); // the premise: the error carries them all
  return err;
}

const ec2 = async (body: string) => {
  const res = await api.post(`${body}&Version=2016-11-15`);
  return { ...res, code: /<Code>([^<]*)<\/Code>/.exec(res.text)?.[1], message: /<Message>([^<]*)<\/Message>/.exec(res.text)?.[1] };
};
const lambda = async (method: string, path: string, body?: unknown) => {
  const res = await api.send({ method, path, service: 'lambda', body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: res.status, text: res.text, type: res.headers.get('x-amzn-errortype') ?? undefined };
};

async function runningContainer(): Promise<string> {
  const run = await ec2(`Action=RunInstances&ImageId=${api.imageId}&InstanceType=t3.micro&MinCount=1&MaxCount=1`);
  const id = /<instanceId>([^<]+)</.exec(run.text)![1]!;
  await until(async () => (await ec2(`Action=DescribeInstances&InstanceId.1=${id}`)).text.includes('<name>running</name>'));
  return id;
}

async function volume(): Promise<string> {
  return /<volumeId>([^<]+)</.exec((await ec2('Action=CreateVolume&AvailabilityZone=us-east-1a&Size=1')).text)![1]!;
}

describe('host failures through the API', () => {
  it('AttachVolume to a container: a failed mount is InternalError, a host without NFS says to use a VM type; no internals', async () => {
    const id = await runningContainer();
    const vol = await volume();
    const attach = () => ec2(`Action=AttachVolume&VolumeId=${vol}&InstanceId=${id}&Device=/dev/sdf`);

    failNext(api.nfs, 'mountInto', await hostile());
    const failed = await attach();
    expect([failed.status, failed.code, failed.message]).toEqual([500, 'InternalError', 'An internal error has occurred']);
    expect(leaks(failed.text)).toEqual([]);

    failNext(api.nfs, 'mountInto', new NfsMountError(true, (await hostile()).message));
    const refused = await attach();
    expect([refused.status, refused.code]).toEqual([400, 'UnsupportedOperation']);
    expect(refused.message).toBe(`The volume '${vol}' could not be mounted in the container '${id}': this host cannot attach volumes to container instances; `
      + 'use an instance type that runs as a VM (m5, c5, r5, ...), which takes volumes over iSCSI.');
    expect(leaks(refused.text)).toEqual([]);
    // Undone each time: the volume is available again, and attaches once the host can mount it.
    expect((await ec2(`Action=DescribeVolumes&VolumeId.1=${vol}`)).text).toContain('<status>available</status>');
    expect(api.nfs.exported.has(vol)).toBe(false);
    expect((await attach()).status).toBe(200);
  });

  it('DetachVolume from a container whose unmount fails: InternalError, no internals', async () => {
    const id = await runningContainer();
    const vol = await volume();
    expect((await ec2(`Action=AttachVolume&VolumeId=${vol}&InstanceId=${id}&Device=/dev/sdg`)).status).toBe(200);
    failNext(api.nfs, 'unexport', await hostile());
    const res = await ec2(`Action=DetachVolume&VolumeId=${vol}`);
    expect([res.status, res.code]).toEqual([500, 'InternalError']);
    expect(leaks(res.text)).toEqual([]);
  });

  it('RunInstances on a host that cannot make the disk or start the unit: the StateReason says what to do, no internals', async () => {
    for (const fail of [async () => failNext(api.pool, 'fork', await hostile()), async () => { api.units.failNextStart = await hostile(); }]) {
      await fail();
      const run = await ec2(`Action=RunInstances&ImageId=${api.imageId}&InstanceType=t3.micro&MinCount=1&MaxCount=1`);
      expect(leaks(run.text)).toEqual([]);
      const id = /<instanceId>([^<]+)</.exec(run.text)![1]!;
      const described = await until(async () => {
        const d = await ec2(`Action=DescribeInstances&InstanceId.1=${id}`);
        return d.text.includes('<name>terminated</name>') && d;
      });
      expect(described.text).toContain('Server.InternalError');
      expect(leaks(described.text)).toEqual([]);
    }
  });

  it('CreateImage on a host that cannot copy the disk: InternalError, no internals', async () => {
    const id = await runningContainer();
    failNext(api.pool, 'imageRootFromDisk', await hostile());
    const res = await ec2(`Action=CreateImage&InstanceId=${id}&Name=from-a-broken-host`);
    expect([res.status, res.code, res.message]).toEqual([500, 'InternalError', 'An internal error has occurred']);
    expect(leaks(res.text)).toEqual([]);
  });

  it('CreateFunction and Invoke on a host that fails: Lambda\'s words, no internals', async () => {
    const ZIP = 'UEsDBBQAAAAAAFqGgV2XmWIwIAAAACAAAAAIAAAAaW5kZXgucHlkZWYgaGFuZGxlcihlLCBjKToKICAgIHJldHVybiBlClBLAQIUAxQAAAAAAFqGgV2XmWIwIAAAACAAAAAIAAAAAAAAAAAAAACAAQAAAABpbmRleC5weVBLBQYAAAAAAQABADYAAABGAAAAAAA=';
    const role = await lambdaRole(api.endpoint, api.key);
    const create = (name: string) => lambda('POST', '/2015-03-31/functions', {
      FunctionName: name, Runtime: 'python3.11', Handler: 'index.handler', Role: role, Code: { ZipFile: ZIP },
    });
    failNext(api.functions, 'unpack', await hostile());
    const unpack = await create('broken');
    expect([unpack.status, unpack.type]).toEqual([400, 'InvalidParameterValueException']);
    expect(leaks(unpack.text)).toEqual([]);
    // The host's own refusal is quoted, with what came from unzip's stderr made fit to read.
    failNext(api.functions, 'unpack', new PackageRefused(`Could not unzip uploaded file. Please check your file, then try to upload again. (${(await hostile()).message})`));
    const refused = await create('refused');
    expect([refused.status, refused.type]).toEqual([400, 'InvalidParameterValueException']);
    expect(refused.text).toContain('Could not unzip uploaded file');
    // The words of stderr stay (an archive's complaint is the user's to read); its command line, addresses and paths go.
    expect(leaks(refused.text)).toEqual([]);
    expect(refused.text).toContain('failed (via <address>, <address>) in <path>');

    expect((await create('works')).status).toBe(201);
    const invoke = () => lambda('POST', '/2015-03-31/functions/works/invocations', {});
    failNext(api.functions, 'invoke', await hostile());
    const failed = await invoke();
    expect([failed.status, failed.type]).toEqual([500, 'ServiceException']);
    expect(leaks(failed.text)).toEqual([]);
    failNext(api.functions, 'ensure', await hostile());
    expect(leaks((await invoke()).text)).toEqual([]);
    // The runtime's front answers other than 200 with host detail: quoted only as far as it is fit to read.
    const detail = (await hostile()).message;
    Object.defineProperty(api.functions, 'invoke', {
      configurable: true, writable: true,
      value: async (_k: string, _p: Buffer, o: { requestId: string }) => {
        delete (api.functions as unknown as Record<string, unknown>).invoke;
        return { status: 502, payload: Buffer.from(detail), requestId: o.requestId };
      },
    });
    const front = await invoke();
    expect([front.status, front.type]).toEqual([500, 'ServiceException']);
    expect(leaks(front.text)).toEqual([]);
    expect((await invoke()).status).toBe(200);
  });
});
