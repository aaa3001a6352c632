#!/usr/bin/env -S node --max-semi-space-size=64
/**
 * The pcloud command. Its node runs with a young generation of 64 MiB a semi-space (16 by default): a request's
 * garbage is collected a quarter as often, so far fewer requests wait on a collection (the DescribeInstances bench's
 * p99: bench/describe.ts), for some 100 MiB more of a server's memory. `pcloud` (the bin), `npm start` and the systemd
 * unit run it so.
 */
import { Command } from 'commander';
import { serve } from '@hono/node-server';
import cliProgress from 'cli-progress';
import { writeFile } from 'node:fs/promises';
import { closeDatabase, openDatabase } from '../db/open.js';
import { Accounts } from '../cloud/accounts.js';
import { configFromEnv } from '../cloud/config.js';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createApp } from '../api/server.js';
import { attachConsoleWebsocket } from '../api/console/index.js';
import { presignedConsoleUrl } from './console.js';
import { instances } from '../db/tables.js';
import { eq } from 'drizzle-orm';
import { metadataServer } from '../imds/server.js';
import { vpcApiServer } from './vpc-api.js';
import { API_IP, isApiConnection } from '../host/metadata.js';
import { apiServiceNames, PcloudCa } from '../host/tls.js';
import { Cloud } from '../cloud/index.js';
import { log } from '../log.js';
import { HOST_REMOVED_EXIT, HostRemoved } from '../cloud/hosts/registry.js';
import { databaseOf, DEFAULT_DATA, DEFAULT_LISTEN, lambdaListenFromEnv } from './config.js';
import { accountCommand } from './account.js';
import { eventsCommand } from './events.js';
import { dashboardCommand } from './dashboard.js';
import { hostCommand, type ServeOptions } from './host.js';
import { applyJoined } from './joined.js';
import { downCommand } from './down.js';
import { psCommand } from './ps.js';
import { topCommand } from './top.js';
import { credentialsText, endpointOf, ensureCredentials } from './credentials.js';
import { doctor, formatChecks } from './doctor.js';
import type { Progress } from '../host/images.js';
import { lockDataDir } from '../host/datalock.js';
import { assertPortsFree, hostPortOf, parseListen, portFree } from '../host/ports.js';
import { openUnitManager } from '../host/units/index.js';
import { hostConfigFromEnv, type HostConfig } from '../host/config.js';
import { NGINX_UNIT, nginxReloads } from '../host/nginx.js';
import { isFinal } from '../host/units/types.js';
import { ensureDataDir } from '../paths.js';
import { openAccessLog } from '../api/access-log.js';
import { Metrics } from '../metrics/index.js';
import { instanceSource } from '../metrics/instances.js';
import { launchMetrics } from '../metrics/launches.js';
import { poolSource } from '../metrics/pool.js';
import { unitSource } from '../metrics/units.js';
import { lambdaMetrics } from '../metrics/lambda.js';
import { cgroupMetrics, instanceUsageSource } from '../metrics/cgroups.js';
import { DEFAULT_METRICS_LISTEN, metricsListenOf, serveMetrics } from '../metrics/server.js';
import { notifier } from '../host/sd-notify.js';

const DEFAULT_IMAGE = 'debian-12';
/** Where pcloud's CA and the API's TLS certificate are kept (keys 0600). */
const caDir = (data: string) => join(data, 'keys', 'tls');

function progressBar(label: string): { progress: Progress; stop: () => void } {
  if (!process.stderr.isTTY) {
    let last = -1;
    return {
      progress: (phase, done, total) => {
        const pct = Math.floor((done / total) * 10) * 10;
        if (pct !== last) {
          last = pct;
          process.stderr.write(`${label}: ${pct}% ${phase}\n`);
        }
      },
      stop: () => undefined,
    };
  }
  const bar = new cliProgress.SingleBar({ format: `${label} [{bar}] {percentage}% {phase}`, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic);
  let started = false;
  return {
    progress: (phase, done, total) => {
      if (!started) { bar.start(total, 0, { phase }); started = true; }
      bar.setTotal(total);
      bar.update(done, { phase: phase.padEnd(40).slice(0, 40) });
    },
    stop: () => started && bar.stop(),
  };
}

async function buildImage(cloud: Cloud, name: string, force = false) {
  const { progress, stop } = progressBar(`building image ${name}`);
  try {
    return await cloud.images.build(name, { progress, force });
  } finally {
    stop();
  }
}

/**
 * The function-URL port free, or held by this data dir's own nginx (units outlive the server that started them);
 * never another server's, which would then answer for this one's functions.
 */
async function assertLambdaPortFree(dataDir: string, listen: string, hostConfig: HostConfig): Promise<void> {
  const lambda = hostPortOf(listen, 'PCLOUD_LAMBDA_LISTEN');
  if (await portFree(lambda.host, lambda.port)) return;
  const units = await openUnitManager(join(dataDir, 'run'), undefined, hostConfig);
  try {
    const own = await units.status(NGINX_UNIT);
    if (own && !isFinal(own.state)) return;
  } finally {
    units.close();
  }
  await assertPortsFree([lambda]);
}

const program = new Command();
program.name('pcloud').description('A self-hosted, AWS-compatible cloud for one Linux host');

program.command('serve')
  .description('serve EC2 (and the rest) on one port')
  .option('--listen <host:port>', 'address to listen on', DEFAULT_LISTEN)
  .option('--data <dir>', 'data directory (SQLite state, storage pool, units)', DEFAULT_DATA)
  .option('--database <url>', 'the state in PostgreSQL (postgres://…; default PCLOUD_DATABASE_URL), shared with other servers, instead of SQLite in the data dir')
  .option('--no-image', 'do not build the default image on first start')
  .option('--access-log <file>', 'one JSON line per API request: - (stdout), a file (opened again on SIGHUP), or off', '-')
  .option('--metrics-listen <host:port>', 'where Prometheus scrapes /metrics, or off', DEFAULT_METRICS_LISTEN)
  .action(serveAction);

/** `pcloud serve`, and what `pcloud host join` goes on to do once joined. */
async function serveAction(opts: ServeOptions): Promise<void> {
  // A joined host's data dir: the cloud's database, zones and this host's key, under what the environment says.
  applyJoined(opts.data);
  const { hostname, port } = parseListen(opts.listen);
  // Under systemd (Type=notify): told READY=1 once the API serves, STOPPING=1 when it stops. Taken out of the
  // environment, so nothing the server starts speaks for it.
  const toSystemd = notifier(process.env.NOTIFY_SOCKET);
  delete process.env.NOTIFY_SOCKET;
  const metricsAt = metricsListenOf(opts.metricsListen);
  const lambdaListen = lambdaListenFromEnv();
  // The host's settings first: one that cannot be used stops the server before anything is touched.
  const hostConfig = hostConfigFromEnv();
  // One server per data dir, and its ports its own: refused here, in one line, before anything is touched.
  await lockDataDir(opts.data, `pcloud serve --listen ${opts.listen}`);
  if (port) await assertPortsFree([hostPortOf(opts.listen, '--listen (PCLOUD_LISTEN)')]);
  await assertLambdaPortFree(opts.data, lambdaListen, hostConfig);
  // A file it cannot write is refused now, before anything is started.
  const accessLog = opts.accessLog === 'off' || opts.accessLog === 'none' ? undefined : openAccessLog(opts.accessLog);
  const cloud = await Cloud.open({ dataDir: opts.data, database: databaseOf(opts), hostConfig });
  const key = await ensureCredentials(cloud.accounts);
  await cloud.network.ensureDefaults(key.accountId);
  if (opts.image) await buildImage(cloud, DEFAULT_IMAGE);
  const imds = metadataServer(cloud.metadata);
  const metrics = metricsAt && new Metrics({
    instances: instanceSource(cloud), units: unitSource(cloud.host.units), pool: poolSource(opts.data), nginxReloads,
  });
  if (metrics) launchMetrics(metrics.registry, cloud.events);
  if (metrics) lambdaMetrics(metrics.registry, cloud.functions.invocationStats);
  if (metrics) cgroupMetrics(metrics.registry, instanceUsageSource(cloud));
  const app = createApp(cloud, {
    onCall(call) {
      accessLog?.write(call);
      metrics?.observe(call);
    },
  });
  // The API in every VPC too, over TLS with pcloud's CA, at the address the VPC's DNS gives for the service names.
  const names = apiServiceNames(cloud.config.region);
  const vpcApi = vpcApiServer(app.fetch, () => cloud.host.tls.server(names, [API_IP]));
  cloud.host.dns.serve({ address: API_IP, names });
  cloud.host.metadata.handle((vpcId, socket) => (isApiConnection(socket) ? vpcApi.connection(socket) : imds.connection(vpcId, socket)));
  await cloud.start();
  // The instance identity's key (RSA) made now on a first start, not inside an instance's first identity request.
  await cloud.metadata.identityCertificate();
  /** Once listening: the endpoint file, nginx in front of the functions, and what to try first. */
  const announce = async (listening: number) => {
    const endpoint = `http://${hostname.includes(':') ? `[${hostname}]` : hostname}:${listening}`;
    await writeFile(join(opts.data, 'endpoint'), endpoint + '\n');
    // nginx in front of the functions: function URLs, and Invoke through it.
    await cloud.startNginx(lambdaListen, `http://127.0.0.1:${listening}`)
      .catch((err) => log.warn(`nginx (function URLs) not running: ${(err as Error).message}`));
    const ami = await cloud.images.byName(DEFAULT_IMAGE);
    process.stdout.write([
      `pcloud serving on ${endpoint} (data ${opts.data}, pool ${cloud.host.pool.kind}, units ${cloud.host.units.kind}); function URLs on ${cloud.functions.nginx?.baseUrl ?? '(nginx not running)'}`,
      '',
      credentialsText(key, endpoint, cloud.config.region),
      '',
      `Inside instances the API answers at https://${names[0]} (and ${names.slice(1).join(', ')}): ${API_IP} in every VPC, with pcloud's CA (pcloud ca) that the guests trust.`,
      '',
      'Try:',
      `  AWS_ACCESS_KEY_ID=${key.accessKeyId} AWS_SECRET_ACCESS_KEY=${key.secretAccessKey} \\`,
      `  aws --endpoint-url ${endpoint} --region ${cloud.config.region} ec2 run-instances --image-id ${ami?.id ?? '<ami-id>'} --instance-type t3.micro`,
      '',
    ].join('\n'));
    toSystemd(`READY=1\nSTATUS=serving on ${endpoint}`);
  };
  // Its own listener: a port it cannot have is logged, and the API serves on without it.
  const metricsServer = metricsAt && metrics ? await serveMetrics(metricsAt, metrics) : undefined;
  const server = serve({ fetch: app.fetch, hostname, port }, (info) => void announce(info.port));
  // SDK clients keep connections open between calls (waiters, scripts doing work in between): close idle ones well
  // after a client would (AWS's own endpoints wait about a minute), never under its feet after Node's 5 s default.
  const http = server as import('node:http').Server;
  // Taken between the check above and now: still one line, not an unhandled exception.
  http.on('error', (err: NodeJS.ErrnoException) => {
    process.stderr.write(err.code === 'EADDRINUSE'
      ? `pcloud: port ${port} on ${hostname} is already in use: stop it, or set --listen (PCLOUD_LISTEN) to a free port\n`
      : `pcloud: cannot listen on ${opts.listen}: ${err.message}\n`);
    process.exit(1);
  });
  const closeConsoles = attachConsoleWebsocket(http, cloud);
  http.keepAliveTimeout = 65_000;
  http.headersTimeout = 70_000;
  let closing = false;
  const shutdown = async (exitCode = 0) => {
    if (closing) return;
    closing = true;
    log.info('shutting down (instances keep running)');
    toSystemd('STOPPING=1\nSTATUS=shutting down (instances keep running)');
    server.close();
    metricsServer?.close();
    closeConsoles();
    imds.close();
    vpcApi.close();
    await cloud.close();
    accessLog?.flush();
    process.exit(exitCode);
  };
  // Its host removed from the cloud while it serves: it stops, and its unit does not start it again.
  cloud.hosts.onRemoved = (err) => {
    log.error(err.message);
    void shutdown(HOST_REMOVED_EXIT);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  // logrotate's way: the file renamed, then SIGHUP opens it again by its name.
  if (accessLog && opts.accessLog !== '-') process.on('SIGHUP', () => accessLog.reopen());
}

program.command('credentials')
  .description('print the access key, in forms aws configure and Terraform take')
  .option('--data <dir>', 'data directory', DEFAULT_DATA)
  .option('--database <url>', 'the state in PostgreSQL (default PCLOUD_DATABASE_URL), as `pcloud serve` was given')
  .action(async (opts: { data: string; database?: string }) => {
    // Only the state database: printing a key needs no storage pool or units.
    await ensureDataDir(opts.data);
    const db = await openDatabase(opts.data, databaseOf(opts));
    const key = await ensureCredentials(new Accounts(db));
    await closeDatabase(db);
    process.stdout.write(credentialsText(key, await endpointOf(opts.data), configFromEnv().region) + '\n');
  });

program.command('ca')
  .description('print pcloud\'s CA certificate (PEM): instances trust it for the API in their VPC; trust it elsewhere to call that API by its service names')
  .option('--data <dir>', 'data directory', DEFAULT_DATA)
  .action(async (opts: { data: string }) => {
    await ensureDataDir(opts.data);
    process.stdout.write(new PcloudCa(caDir(opts.data)).certificate());
  });

accountCommand(program);
eventsCommand(program);
dashboardCommand(program);
hostCommand(program, serveAction);
downCommand(program);
psCommand(program);
topCommand(program);

const image = program.command('image').description('build, import and list images (AMIs)');
image.command('build <name>')
  .description('build an image from a recipe in images/ and register it (cached: an existing image is kept)')
  .option('--data <dir>', 'data directory', DEFAULT_DATA)
  .option('--force', 'build again even if the image exists')
  .action(async (name: string, opts: { data: string; force?: boolean }) => {
    const cloud = await Cloud.open({ dataDir: opts.data, database: databaseOf({}) });
    const img = await buildImage(cloud, name, opts.force);
    process.stdout.write(`${img.id}\t${img.name}\n`);
    await cloud.close();
  });
image.command('import <file>')
  .description('register a root file system tarball (containers, and microvm if it has a kernel), or a qcow2/raw disk image or installer ISO (VMs; UEFI or Windows ones run on q35)')
  .requiredOption('--name <name>', 'image name')
  .option('--format <format>', 'tar, qcow2, raw or iso (default: from the file)')
  .option('--platform <platform>', 'linux or windows (disk images)', 'linux')
  .option('--boot-mode <mode>', 'uefi or legacy-bios (disk images; Windows and ISOs: uefi)')
  .option('--disk-size <GiB>', 'size of the disk an ISO installs onto, or the least size of an imported disk', '32')
  .option('--data <dir>', 'data directory', DEFAULT_DATA)
  .action(async (file: string, opts: { name: string; data: string; format?: string; platform: string; bootMode?: string; diskSize: string }) => {
    const cloud = await Cloud.open({ dataDir: opts.data, database: databaseOf({}) });
    const tar = opts.format === 'tar' || (!opts.format && /\.(tar|tar\.\w+|tgz)$/.test(file));
    if (opts.platform !== 'linux' && opts.platform !== 'windows') throw new Error(`--platform: linux or windows, not ${opts.platform}`);
    if (opts.bootMode && opts.bootMode !== 'uefi' && opts.bootMode !== 'legacy-bios') throw new Error(`--boot-mode: uefi or legacy-bios, not ${opts.bootMode}`);
    if (opts.format && !['tar', 'qcow2', 'raw', 'iso'].includes(opts.format)) throw new Error(`--format: tar, qcow2, raw or iso, not ${opts.format}`);
    const img = tar
      ? await cloud.images.importTar(file, opts.name)
      : await cloud.images.importDisk(file, opts.name, {
        format: opts.format as 'qcow2' | 'raw' | 'iso' | undefined, platform: opts.platform, bootMode: opts.bootMode as 'uefi' | 'legacy-bios' | undefined,
        diskSizeGiB: Number(opts.diskSize),
      });
    process.stdout.write(`${img.id}\t${img.name}\n`);
    await cloud.close();
  });
image.command('list')
  .option('--data <dir>', 'data directory', DEFAULT_DATA)
  .action(async (opts: { data: string }) => {
    const cloud = await Cloud.open({ dataDir: opts.data, database: databaseOf({}) });
    for (const img of (await cloud.images.describe('000000000000', [], [], []))) {
      process.stdout.write(`${img.id}\t${img.name}\t${(img.sizeBytes / 2 ** 20).toFixed(0)} MiB\t${img.source}\n`);
    }
    await cloud.close();
  });

program.command('doctor')
  .description('what this host can do, and what is missing')
  .option('--data <dir>', 'data directory', DEFAULT_DATA)
  .action(async (opts: { data: string }) => {
    process.stdout.write(formatChecks(await doctor(opts.data, hostConfigFromEnv(), configFromEnv().vmAccel)) + '\n');
  });

program.command('console <instance>')
  .description("a URL of a UEFI/Windows VM's console in the browser (noVNC), presigned with its account's key")
  .option('--data <dir>', 'data directory', DEFAULT_DATA)
  .option('--expires <seconds>', 'how long the URL opens the page', '300')
  .action(async (instance: string, opts: { data: string; expires: string }) => {
    const db = await openDatabase(opts.data, databaseOf({}));
    let key;
    try {
      const row = (await db.select({ accountId: instances.accountId }).from(instances).where(eq(instances.id, instance)).limit(1))[0];
      if (!row) throw new Error(`no instance ${instance}`);
      key = await new Accounts(db).keyOf(row.accountId);
      if (!key) throw new Error(`account ${row.accountId} has no access key`);
    } finally {
      await closeDatabase(db);
    }
    process.stdout.write(presignedConsoleUrl(await endpointOf(opts.data), key, configFromEnv().region, instance, Number(opts.expires)) + '\n');
  });

program.command('logs <instance>')
  .description("an instance's console output")
  .option('--data <dir>', 'data directory', DEFAULT_DATA)
  .option('-f, --follow', 'keep following')
  .action(async (instance: string, opts: { data: string; follow?: boolean }) => {
    const cloud = await Cloud.open({ dataDir: opts.data, database: databaseOf({}) });
    const [cmd, ...args] = cloud.host.units.logCommand(`pcloud-instance@${instance}`, opts.follow ?? false);
    await cloud.close();
    const child = spawn(cmd!, args, { stdio: 'inherit' });
    await new Promise((r) => child.on('exit', r));
  });

program.parseAsync().catch((err: Error) => {
  process.stderr.write(`pcloud: ${err.message}\n`);
  process.exit(err instanceof HostRemoved ? HOST_REMOVED_EXIT : 1);
});
