/** An in-process pcloud API (hono on a random port) over a fake host, for fast API tests. */
import { and, eq } from 'drizzle-orm';
import { serve } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import aws4 from 'aws4';
import { EC2Client } from '@aws-sdk/client-ec2';
import { createApp } from '../../src/api/server.js';
import { attachConsoleWebsocket } from '../../src/api/console/index.js';
import { Cloud } from '../../src/cloud/index.js';
import type { CloudConfig } from '../../src/cloud/config.js';
import { images } from '../../src/db/tables.js';
import { newId } from '../../src/cloud/ids.js';
import { SYSTEM_ACCOUNT } from '../../src/cloud/images.js';
import { fakeHost, type FakeUnits, type FakePool, type FakeNetwork, type FakeDns, type FakeIscsi, type FakeNfs, type FakeFunctions } from './fake-host.js';
import { waitFor } from './wait.js';

export interface TestApi {
  endpoint: string;
  cloud: Cloud;
  units: FakeUnits;
  pool: FakePool;
  network: FakeNetwork;
  dns: FakeDns;
  iscsi: FakeIscsi;
  nfs: FakeNfs;
  functions: FakeFunctions;
  imageId: string;
  key: { accessKeyId: string; secretAccessKey: string };
  ec2: EC2Client;
  /** A client for another account, and its key. */
  ec2Other: EC2Client;
  keyOther: { accessKeyId: string; secretAccessKey: string };
  post(body: string, opts?: { service?: string; secret?: string; date?: Date; headers?: Record<string, string>; path?: string }): Promise<{ status: number; text: string }>;
  /** Any signed request (by the first account unless `key` says otherwise), body as given. */
  send(req: SendOptions): Promise<{ status: number; text: string; headers: Headers }>;
  close(): Promise<void>;
}

export interface SendOptions {
  method?: string;
  path?: string;
  body?: string | Buffer;
  service?: string;
  headers?: Record<string, string>;
  key?: { accessKeyId: string; secretAccessKey: string };
}

/** A server with a fake host; its state in the data dir's SQLite, or in the PostgreSQL database `database` names. */
export async function startApi(opts: { database?: string; hostname?: string; underlayAddress?: string; config?: Partial<CloudConfig> } = {}): Promise<TestApi> {
  const fake = await fakeHost();
  // Another machine (a host of its own on a shared database) by another hostname; by default every server is 'fake-host'.
  if (opts.hostname) fake.machine.offer.hostname = opts.hostname;
  // A host joined over an underlay (volumes move between such hosts), at this address.
  if (opts.underlayAddress) fake.host.config.underlayAddress = opts.underlayAddress;
  const dataDir = await mkdtemp(join(tmpdir(), 'pcloud-api-'));
  const cloud = await Cloud.open({ dataDir, database: opts.database, host: fake.host, config: { terminatedTtlMs: 3_600_000, ...opts.config } });
  const key = await cloud.accounts.putKey({ accessKeyId: 'AKIDAPITEST', secretAccessKey: 'api-secret', accountId: '111111111111' });
  const other = await cloud.accounts.putKey({ accessKeyId: 'AKIDOTHER', secretAccessKey: 'other-secret', accountId: '222222222222' });
  // A database another server made already has the image: this host gets its root too (as a host that fetched it).
  const known = (await cloud.db.select({ id: images.id }).from(images).where(and(eq(images.ownerId, SYSTEM_ACCOUNT), eq(images.name, 'debian-12'))).limit(1))[0];
  const imageId = known?.id ?? newId('ami');
  const rootPath = await fake.pool.createImageRoot(imageId);
  if (!known) {
    await cloud.db.insert(images).values({
      id: imageId, ownerId: SYSTEM_ACCOUNT, name: 'debian-12', description: 'test image', architecture: 'x86_64',
      platform: 'linux', bootMode: 'legacy-bios', state: 'available', isPublic: true, rootPath, sizeBytes: 1 << 30,
      source: 'test', createdAt: Date.now(),
    });
  }
  await cloud.start();
  return serveApi(cloud, fake, imageId, key, other);
}

/**
 * A second server on the database of `first`, as another `pcloud serve` sharing it would be: a data dir of its own
 * (its pcloud.db is the first's file, opened by a second connection: WAL) and a fake host of its own; the accounts,
 * keys and image are the database's. Start it before launching anything on the first: its start reconciles the
 * instances in the database with its own host, which runs none of them.
 */
export async function startSharedApi(first: TestApi): Promise<TestApi> {
  const fake = await fakeHost();
  const dataDir = await mkdtemp(join(tmpdir(), 'pcloud-api-shared-'));
  await symlink(join(first.cloud.dataDir, 'pcloud.db'), join(dataDir, 'pcloud.db'));
  const cloud = await Cloud.open({ dataDir, host: fake.host, config: { terminatedTtlMs: 3_600_000 } });
  await cloud.start();
  return serveApi(cloud, fake, first.imageId, first.key, first.keyOther);
}

type Key = { accessKeyId: string; secretAccessKey: string };

/** The API of `cloud` (started) on a random port, console websocket included, and clients of its two accounts. */
async function serveApi(cloud: Cloud, fake: Awaited<ReturnType<typeof fakeHost>>, imageId: string, key: Key, other: Key): Promise<TestApi> {
  const { units, pool, network, dns, iscsi, nfs, functions } = fake;
  const app = createApp(cloud);
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise((r) => server.once('listening', r));
  // As `pcloud serve` keeps them (src/cli/main.ts): past the clients' own idle time, so a client never sends on a
  // connection the server is closing (node's 5 s default did, to an SDK client reusing one after a 5 s wait: ECONNRESET).
  (server as Server).keepAliveTimeout = 65_000;
  const closeConsoles = attachConsoleWebsocket(server as Server, cloud);
  const port = (server.address() as AddressInfo).port;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = (k: Key) => new EC2Client({
    endpoint, region: 'us-east-1', credentials: { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey }, maxAttempts: 1,
  });
  return {
    endpoint, cloud, units, pool, network, dns, iscsi, nfs, functions, imageId, key,
    ec2: client(key),
    ec2Other: client(other),
    keyOther: other,
    async post(body, opts = {}) {
      const req = aws4.sign({
        host: `127.0.0.1:${port}`, method: 'POST', path: opts.path ?? '/', body, service: opts.service ?? 'ec2', region: 'us-east-1',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8', ...(opts.date ? { 'X-Amz-Date': opts.date.toISOString().replace(/[:-]|\.\d{3}/g, '') } : {}), ...opts.headers },
      }, { accessKeyId: key.accessKeyId, secretAccessKey: opts.secret ?? key.secretAccessKey });
      const res = await fetch(endpoint + (opts.path ?? '/'), { method: 'POST', headers: req.headers as Record<string, string>, body });
      return { status: res.status, text: await res.text() };
    },
    async send(o) {
      const method = o.method ?? 'POST';
      const path = o.path ?? '/';
      const req = aws4.sign({
        host: `127.0.0.1:${port}`, method, path, body: o.body, service: o.service ?? 'ec2', region: 'us-east-1', headers: { ...o.headers },
      }, o.key ?? key);
      const res = await fetch(endpoint + path, { method, headers: req.headers as Record<string, string>, body: method === 'GET' || method === 'HEAD' || o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : new Uint8Array(o.body) });
      return { status: res.status, text: await res.text(), headers: res.headers };
    },
    async close() {
      closeConsoles();
      server.close();
      await cloud.close();
    },
  };
}

/** Wait until fn returns a truthy value (polling), or fail after timeoutMs. */
/** The test image also "has a kernel" (VM artifacts in the pool), so its instances may run as microvms too. */
export async function imageRunsAsVm(api: TestApi): Promise<void> {
  const vm = api.pool.vmDir(api.imageId);
  await mkdir(vm, { recursive: true });
  await writeFile(join(vm, 'vmlinux'), '');
  await writeFile(join(vm, 'disk.raw'), '');
}

export function until<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, everyMs = 20): Promise<T> {
  return waitFor('condition', fn, timeoutMs, everyMs);
}
