/**
 * A function's role credentials: the domain's sessions (minted per version, renewed before their end, ended with the
 * function or its role), the role checked as Lambda checks it, the host's credentials file (root's directory, the
 * version's own shown to its sandbox, replaced whole) and the shims reading it into the environment before the handler
 * loads and again when it changed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FunctionCredentials, RENEW_BEFORE_MS } from '../../src/cloud/functions/credentials.js';
import { checkRole, parseRoleArn, ROLE_NOT_ASSUMABLE, type FunctionIdentity } from '../../src/cloud/functions/roles.js';
import { CloudError } from '../../src/cloud/errors.js';
import { FunctionHost, type FunctionUnitOptions } from '../../src/host/functions.js';
import { credentialsText, lambdaEnvironment, pythonCommand } from '../../src/host/function-runtime.js';
import type { SessionCredentials } from '../../src/host/index.js';
import type { UnitManager } from '../../src/host/units/types.js';
import { projectRoot } from '../../src/paths.js';
import { FAST_TIER } from '../support/tier.js';
import { waitFor } from '../support/wait.js';

const ME = '111122223333';
const base = mkdtempSync(join(tmpdir(), 'pcloud-fn-creds-'));
const started: ChildProcess[] = [];
afterAll(() => {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  rmSync(base, { recursive: true, force: true });
});

/** A fake IAM/STS: roles by name with whether Lambda may assume them; every mint a new key, one hour long from `now`. */
function fakeIdentity(now: () => number, roles: Map<string, { path: string; lambda: boolean }>) {
  const minted: { roleName: string; sessionName: string; source: string; durationSeconds: number }[] = [];
  const ended: string[] = [];
  const identity: FunctionIdentity = {
    lambdaMayAssume: async (accountId, name, path) => accountId === ME && roles.get(name)?.path === path && roles.get(name)!.lambda,
    mint: async (req) => {
      if (!roles.has(req.roleName)) throw new CloudError('NoSuchEntity', `The role with name ${req.roleName} cannot be found.`);
      minted.push(req);
      return { accessKeyId: `ASIA${String(minted.length).padStart(16, 'A')}`, secretAccessKey: 's', sessionToken: 't', expiration: new Date(now() + req.durationSeconds * 1000) };
    },
    endSessions: async (accountId, source) => { ended.push(`${accountId}/${source}`); },
  };
  return { identity, minted, ended };
}

describe("a function's role", () => {
  const roles = new Map([['lambda-role', { path: '/', lambda: true }], ['ec2-role', { path: '/', lambda: false }], ['svc', { path: '/service-role/', lambda: true }]]);
  const { identity } = fakeIdentity(Date.now, roles);
  const refused = async (arn: string) => {
    try {
      await checkRole(identity, ME, arn);
    } catch (err) {
      return `${(err as CloudError).code}: ${(err as Error).message}`;
    }
    return 'taken';
  };

  it('is a role of the account that Lambda may assume, by its ARN with its path', async () => {
    expect(await refused(`arn:aws:iam::${ME}:role/lambda-role`)).toBe('taken');
    expect(await refused(`arn:aws:iam::${ME}:role/service-role/svc`)).toBe('taken');
    for (const arn of [`arn:aws:iam::${ME}:role/missing`, `arn:aws:iam::${ME}:role/ec2-role`, `arn:aws:iam::${ME}:role/other/svc`,
      'arn:aws:iam::999988887777:role/lambda-role']) {
      expect(await refused(arn)).toBe(`InvalidParameterValueException: ${ROLE_NOT_ASSUMABLE}`);
    }
  });

  it('ARNs parse to account, path and name', () => {
    expect(parseRoleArn(`arn:aws:iam::${ME}:role/a/b/name`)).toEqual({ accountId: ME, path: '/a/b/', name: 'name' });
    expect(parseRoleArn(`arn:aws:iam::${ME}:role/name`)).toEqual({ accountId: ME, path: '/', name: 'name' });
    expect(parseRoleArn(`arn:aws:iam::${ME}:user/name`)).toBeUndefined();
  });
});

describe("a function's sessions", () => {
  const setup = () => {
    let t = Date.UTC(2026, 0, 1);
    const now = () => t;
    const roles = new Map([['r1', { path: '/', lambda: true }], ['r2', { path: '/', lambda: true }]]);
    const fake = fakeIdentity(now, roles);
    const running = new Set<string>();
    const written = new Map<string, SessionCredentials | undefined>();
    const host = { list: async () => [...running], renewCredentials: async (key: string, c: SessionCredentials | undefined) => { written.set(key, c); } };
    const creds = new FunctionCredentials(fake.identity, host, now);
    return { ...fake, creds, running, written, advance: (ms: number) => { t += ms; }, roles };
  };
  const fn = (role = `arn:aws:iam::${ME}:role/r1`) => ({ accountId: ME, name: 'f', role });

  it('are minted once per version and kept while they have time left, named for the function', async () => {
    const s = setup();
    const a = await s.creds.for('k1', fn());
    expect(await s.creds.for('k1', fn())).toBe(a);
    expect(s.minted).toEqual([{ accountId: ME, roleName: 'r1', sessionName: 'f', source: 'function:f', durationSeconds: 3600 }]);
    s.advance(3600_000 - RENEW_BEFORE_MS + 1);
    expect((await s.creds.for('k1', fn()))?.accessKeyId).not.toBe(a!.accessKeyId);
    expect((await s.creds.for('k1', fn(`arn:aws:iam::${ME}:role/r2`)))?.accessKeyId).toMatch(/^ASIA/);
    expect(s.minted.map((m) => m.roleName)).toEqual(['r1', 'r1', 'r2']);
  });

  it('are none for a role that cannot be assumed any more (or of another account)', async () => {
    const s = setup();
    expect(await s.creds.for('k1', fn(`arn:aws:iam::${ME}:role/gone`))).toBeUndefined();
    expect(await s.creds.for('k1', fn('arn:aws:iam::999988887777:role/r1'))).toBeUndefined();
    expect(await new FunctionCredentials(undefined, { list: async () => [] }).for('k', fn())).toBeUndefined();
  });

  it('are renewed for running versions near their end, and forgotten for versions no longer running', async () => {
    const s = setup();
    const a = (await s.creds.for('k1', fn()))!;
    await s.creds.for('k2', fn());
    s.running.add('k1');
    expect(await s.creds.renew()).toBe(0);
    s.advance(3600_000 - RENEW_BEFORE_MS + 1);
    expect(await s.creds.renew()).toBe(1);
    expect(s.written.get('k1')!.accessKeyId).not.toBe(a.accessKeyId);
    expect(s.written.has('k2')).toBe(false);
    // k2 was forgotten: asked again, a new session.
    await s.creds.for('k2', fn());
    expect(s.minted).toHaveLength(4);
  });

  it('end with the function, every version kept minted again', async () => {
    const s = setup();
    await s.creds.for('latest', fn());
    const v1 = (await s.creds.for('v1', fn()))!;
    await s.creds.end(ME, 'f', (k) => k === 'v1');
    expect(s.ended).toEqual([`${ME}/function:f`]);
    expect(s.written.get('v1')!.accessKeyId).not.toBe(v1.accessKeyId);
    expect(s.written.has('latest')).toBe(false);
  });
});

const unitOptions: FunctionUnitOptions = {
  key: `${ME}-hello-latest`, functionName: 'hello', version: '$LATEST', arn: `arn:aws:lambda:us-east-1:${ME}:function:hello`,
  runtime: 'python3.12', handler: 'index.handler', codeDir: '/var/lib/pcloud/functions/x', memoryMiB: 128, timeoutSec: 3,
  environment: {}, mode: 'warm', idleSec: 60, region: 'us-east-1',
};
const creds = (id: string): SessionCredentials => ({ accessKeyId: id, secretAccessKey: `secret-${id}`, sessionToken: `token-${id}`, expiration: new Date(Date.UTC(2026, 0, 1, 1)) });

describe("the host's credentials file", () => {
  const data = join(base, 'data');
  const host = new FunctionHost({ kind: 'direct' } as UnitManager, data, join(data, 'run'));
  const file = host.credentialsFile(unitOptions.key);

  it('is shown to the version sandbox only, named on the runtime command, never in its environment', () => {
    const spec = host.unit({ ...unitOptions, credentials: creds('ASIAONE') });
    expect(spec.sandbox!.credentials).toBe(join(data, 'run/lambda/credentials', unitOptions.key));
    expect(spec.sandbox!.readOnly.some((p) => p.startsWith(data))).toBe(false);
    expect(spec.exec).toContain('--credentials=/run/pcloud-credentials/credentials.json');
    expect(JSON.stringify(spec)).not.toContain('ASIAONE');
    expect(host.unit({ ...unitOptions, console: { instanceId: 'i-0', vncPath: '/x', idleSec: 60, stateFile: '/y' } }).exec.join(' ')).not.toContain('--credentials');
  });

  it('is written whole under a root-only directory, withdrawn, and gone with the unit', async () => {
    await host.renewCredentials(unitOptions.key, creds('ASIAONE'));
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ AccessKeyId: 'ASIAONE', SecretAccessKey: 'secret-ASIAONE', Token: 'token-ASIAONE', Expiration: '2026-01-01T01:00:00.000Z' });
    expect(statSync(join(data, 'run/lambda/credentials')).mode & 0o777).toBe(0o700);
    const inode = statSync(file).ino;
    await host.renewCredentials(unitOptions.key, creds('ASIATWO'));
    expect(statSync(file).ino).not.toBe(inode);
    expect(readFileSync(file, 'utf8')).toContain('ASIATWO');
    await host.renewCredentials(unitOptions.key, undefined);
    expect(existsSync(file)).toBe(false);
    // Its directory stays while the unit does (the sandbox binds it).
    expect(existsSync(join(data, 'run/lambda/credentials', unitOptions.key))).toBe(true);
  });

  it("AWS_ENDPOINT_URL is pcloud's, whatever a stored environment says", () => {
    const env = lambdaEnvironment({ ...unitOptions, endpoint: 'http://127.0.0.1:8773', environment: { AWS_ENDPOINT_URL: 'http://evil', MINE: '1' } });
    expect(env.AWS_ENDPOINT_URL).toBe('http://127.0.0.1:8773');
    expect(env.MINE).toBe('1');
    expect(env.AWS_REGION).toBe('us-east-1');
    expect(lambdaEnvironment(unitOptions).AWS_ENDPOINT_URL).toBeUndefined();
  });
});

/** `argv` listening on `listen` as a socket unit's service (Accept=no): the socket its fd 3. */
function activated(listen: string, argv: string[]): void {
  const proc = spawn('systemd-socket-activate', ['-l', listen, '--', ...argv], { stdio: ['ignore', 'ignore', 'inherit'] });
  started.push(proc);
}

function invoke(socketPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method: 'POST', path: '/invoke', headers: { 'content-type': 'application/json', connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString()));
    });
    req.on('error', reject);
    req.end('{}');
  });
}

describe.skipIf(FAST_TIER)('the shims read the credentials file into the environment', () => {
  const cases: [string, string, (code: string, file: string) => string[]][] = [
    ['python3.12', 'prefork (module loaded before the request, the child reads them again)', (code, file) => [pythonCommand(), join(projectRoot(), 'src/runtime/python_shim.py'),
      '--runtime=python3.12', `--code=${code}`, '--handler=index.handler', '--function=f', '--idle=30', '--prefork', '--concurrency=2', `--credentials=${file}`]],
    ['nodejs20.x', 'warm', (code, file) => [process.execPath, join(projectRoot(), 'dist/src/runtime/shim.js'),
      '--runtime=nodejs20.x', `--code=${code}`, '--handler=index.handler', '--function=f', '--idle=30', `--credentials=${file}`]],
  ];
  for (const [runtime, how, argv] of cases) {
    it(`${runtime}, ${how}`, async () => {
      const dir = mkdtempSync(join(base, 'shim-'));
      const code = join(dir, 'code');
      mkdirSync(code);
      const vars = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_CREDENTIAL_EXPIRATION'];
      if (runtime.startsWith('python')) {
        writeFileSync(join(code, 'index.py'), `import os\nAT_LOAD = os.environ.get("AWS_ACCESS_KEY_ID")\ndef handler(e, c):\n    return {"load": AT_LOAD, **{k: os.environ.get(k) for k in ${JSON.stringify(vars)}}}\n`);
      } else {
        writeFileSync(join(code, 'index.mjs'), `const AT_LOAD = process.env.AWS_ACCESS_KEY_ID ?? null;\nexport const handler = async () => ({ load: AT_LOAD, ...Object.fromEntries(${JSON.stringify(vars)}.map((k) => [k, process.env[k] ?? null])) });\n`);
      }
      const file = join(dir, 'credentials.json');
      writeFileSync(file, credentialsText(creds('ASIAONE')));
      const sock = join(dir, 'fn.sock');
      activated(sock, argv(code, file));
      await waitFor('the function answering', () => invoke(sock).then(() => true, () => false));
      expect(JSON.parse(await invoke(sock))).toEqual({
        load: 'ASIAONE', AWS_ACCESS_KEY_ID: 'ASIAONE', AWS_SECRET_ACCESS_KEY: 'secret-ASIAONE',
        AWS_SESSION_TOKEN: 'token-ASIAONE', AWS_CREDENTIAL_EXPIRATION: '2026-01-01T01:00:00.000Z',
      });
      // Renewed: the next invoke has the new ones; withdrawn: none.
      writeFileSync(`${file}.tmp`, credentialsText(creds('ASIATWO')));
      rmSync(file);
      writeFileSync(file, readFileSync(`${file}.tmp`));
      expect(JSON.parse(await invoke(sock))).toMatchObject({ AWS_ACCESS_KEY_ID: 'ASIATWO', AWS_SESSION_TOKEN: 'token-ASIATWO' });
      rmSync(file);
      expect(JSON.parse(await invoke(sock))).toMatchObject({ AWS_ACCESS_KEY_ID: null, AWS_SECRET_ACCESS_KEY: null, AWS_SESSION_TOKEN: null });
    });
  }
});
