/**
 * The environment is read in the config modules only: the host's (src/host/config.ts), the domain's
 * (src/cloud/config.ts), the CLI's (src/cli/config.ts) and the log level (src/log.ts). Elsewhere in src, process.env
 * appears only where the listed reason says: the environment handed on to a child, or a channel from a parent.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/paths.js';

const src = join(projectRoot(), 'src');

/** Each file that may name process.env: why, and what its every such line must look like. */
const ALLOWED = new Map<string, { reason: string; line: RegExp }>([
  ['host/config.ts', { reason: 'the host layer\'s settings', line: /hostConfigFromEnv\(env: NodeJS\.ProcessEnv = process\.env\)/ }],
  ['cloud/config.ts', { reason: 'the domain\'s settings', line: /configFromEnv\(env: NodeJS\.ProcessEnv = process\.env\)/ }],
  ['cli/config.ts', { reason: 'the CLI\'s settings (PCLOUD_DATA, PCLOUD_LISTEN, PCLOUD_LAMBDA_LISTEN, PCLOUD_DATABASE_URL)', line: /process\.env\.PCLOUD_(DATA|LISTEN|DATABASE_URL)\b|lambdaListenFromEnv\(env: NodeJS\.ProcessEnv = process\.env\)/ }],
  ['cli/joined.ts', { reason: 'a joined host\'s settings (joined.json) become defaults of the environment the server reads', line: /applyJoined\(dataDir: string, env: NodeJS\.ProcessEnv = process\.env\)/ }],
  ['log.ts', { reason: 'PCLOUD_LOG, read before anything else can log', line: /process\.env\.PCLOUD_LOG\b/ }],
  ['host/exec.ts', { reason: 'host commands run with the server\'s environment unless given one', line: /env: opts\.env \?\? process\.env,/ }],
  ['host/units/direct.ts', { reason: 'a supervisor gets the server\'s PATH', line: /PATH: process\.env\.PATH \?\? ''/ }],
  ['host/units/supervisor.ts', {
    reason: 'a supervisor (a process of its own) gets its PATH, and its console bound from the direct manager, in its environment',
    line: /PATH: process\.env\.PATH \?\?|consoleLogBytes\(process\.env\.PCLOUD_CONSOLE_LOG_BYTES\)/,
  }],
  ['host/container-ready.ts', {
    reason: 'NOTIFY_SOCKET: the unit manager\'s readiness socket, given to the process it runs; nspawn gets the environment with its own',
    line: /process\.env\.NOTIFY_SOCKET\b|env: \{ \.\.\.process\.env, NOTIFY_SOCKET: args\.notify \}/,
  }],
  ['cli/main.ts', {
    reason: 'NOTIFY_SOCKET: systemd\'s readiness socket for `pcloud serve` itself (Type=notify), taken out of the environment so nothing it starts speaks for it',
    line: /notifier\(process\.env\.NOTIFY_SOCKET\)|delete process\.env\.NOTIFY_SOCKET;/,
  }],
  ['host/vm-ready.ts', { reason: 'NOTIFY_SOCKET: the unit manager\'s readiness socket, given to the process it runs', line: /process\.env\.NOTIFY_SOCKET\b/ }],
  ['runtime/shim.ts', {
    reason: 'a handler process gets the shim\'s environment (its unit\'s, and its role\'s credentials from the credentials file) and the runtime API',
    line: /env: \{ \.\.\.process\.env, AWS_LAMBDA_RUNTIME_API|process\.env\[v\] = value;|delete process\.env\[v\];/,
  }],
  ['cli/credentials.ts', { reason: 'the CLI\'s key from PCLOUD_ACCESS_KEY_ID and the rest (an env parameter, defaulting to the process\'s)', line: /ensureCredentials\(accounts: Accounts, env = process\.env\)/ }],
  ['cloud/catalog.ts', { reason: 'PCLOUD_RUNTIMES, the family table read once at import (a parameter, defaulting to the environment\'s)', line: /familyRuntimes\(env: string \| undefined = process\.env\.PCLOUD_RUNTIMES\)/ }],
]);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Every line of src naming process.env, by file (relative to src). */
function envLines(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of sources(src)) {
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('process.env'));
    if (lines.length) found.set(relative(src, file), lines);
  }
  return found;
}

describe('where the environment is read', () => {
  const found = envLines();

  it('only the config modules and the listed pass-throughs name process.env', () => {
    const unexpected = [...found.keys()].filter((f) => !ALLOWED.has(f));
    expect(unexpected, 'read the setting in a config module (src/host/config.ts for the host layer) and pass it in').toEqual([]);
  });

  it('each allowed file names it only as its reason says', () => {
    for (const [file, lines] of found) {
      const allowed = ALLOWED.get(file);
      if (!allowed) continue;
      for (const line of lines) expect(line, `${file}: ${allowed.reason}`).toMatch(allowed.line);
    }
  });

  it('the list has no stale entries', () => {
    expect([...ALLOWED.keys()].filter((f) => !found.has(f))).toEqual([]);
  });

  it('the host drivers take their settings from HostConfig (none of src/host but config.ts reads a PCLOUD_ variable)', () => {
    const reads = [...found].filter(([f]) => f.startsWith('host/') && f !== 'host/config.ts')
      .flatMap(([f, lines]) => lines.filter((l) => /process\.env\.PCLOUD_/.test(l) && !/consoleLogBytes\(process\.env\.PCLOUD_CONSOLE_LOG_BYTES\)/.test(l)).map((l) => `${f}: ${l.trim()}`));
    expect(reads).toEqual([]);
  });
});
