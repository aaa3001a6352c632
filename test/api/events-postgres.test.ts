/**
 * Instance events on PostgreSQL (a throwaway Debian cluster): recorded by a server whose state is there, and
 * `pcloud events --database URL` (the compiled CLI: run `npm run build` first) lists them and follows new ones until
 * Ctrl-C, as on SQLite (events-api.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { RunInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { dialect } from '../../src/db/tables.js';
import { startApi, until, type TestApi } from '../support/api.js';
import { postgresMissing, startPostgres, type Postgres } from '../support/postgres.js';

const CLI = join(new URL('../../', import.meta.url).pathname, 'dist/src/cli/main.js');
const missing = postgresMissing();
let pg: Postgres | undefined;
let api: TestApi;

beforeAll(async () => {
  if (missing) return;
  pg = await startPostgres();
  api = await startApi({ database: pg.url });
}, 120_000);
afterAll(async () => {
  await api?.close();
  await pg?.stop();
});

async function run(): Promise<string> {
  const res = await api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
  return res.Instances![0]!.InstanceId!;
}

describe.skipIf(missing)(`events on PostgreSQL${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('are recorded there, listed by pcloud events --database, and followed until Ctrl-C', async () => {
    expect(dialect).toBe('pg');
    const id = await run();
    await until(async () => (await api.cloud.events.list({ instanceId: id })).length >= 3);
    const child = spawn(process.execPath, [CLI, 'events', '--follow', '--database', pg!.url, '--data', api.cloud.dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await until(() => out.includes(`${id}  status   ok`), 30_000, 100);
      const before = out.split('\n').filter((l) => l.includes(id)).map((l) => l.split(/ {2,}/)[3]);
      expect(before).toEqual(['pending', 'pending->running', 'ok']);
      await api.ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
      await until(() => out.includes(`${id}  state    stopping->stopped`), 30_000, 100);
      expect(out.split('\n').filter((l) => l.includes(id)).map((l) => l.split(/ {2,}/)[3])).toEqual([...before, 'running->stopping', 'stopping->stopped']);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(err).toBe('');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
