/**
 * Function units rendered through the unit manager (host.unit(): one description; socket-units.ts for systemd,
 * direct-spec.ts for the direct manager) against what was rendered before issue 13 (test/fixtures/function-units: the
 * systemd/pcloud-fn.* templates' text and the direct manager's spec as they were). The hardening is the same line
 * for line; the differences are the ones listed here, each applied to the old text. The per-request (Python) fixtures
 * were rendered again with issue 14: one pre-forking parent per function (Accept=no, --prefork), not a process per
 * connection started by the socket; the hardening lines are still the same. Issue 16: a runtime (not a console) is shown
 * its version's credentials directory (read-only) and named its credentials file on its command line.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FunctionHost, type FunctionUnitOptions } from '../../src/host/functions.js';
import { pythonCommand } from '../../src/host/function-runtime.js';
import { programPrefix } from '../../src/host/sandbox.js';
import { directSpec } from '../../src/host/units/direct-spec.js';
import { renderSocketUnits } from '../../src/host/units/socket-units.js';
import type { UnitManager } from '../../src/host/units/types.js';
import { projectRoot } from '../../src/paths.js';

const fixtures = join(import.meta.dirname, '../fixtures/function-units');
const env = { GREETING: 'a\nb; $x %i "q" \\ {}' };
const cases: Record<string, FunctionUnitOptions> = {
  'per-request': {
    key: '111122223333-hello-latest', functionName: 'hello', version: '$LATEST', arn: 'arn:aws:lambda:us-east-1:111122223333:function:hello',
    runtime: 'python3.12', handler: 'app.handler', codeDir: '/var/lib/pcloud/functions/111122223333/hello/rev1', memoryMiB: 128, timeoutSec: 3,
    environment: env, mode: 'per-request', idleSec: 60, region: 'us-east-1',
  },
  warm: {
    key: '111122223333-hello-1', functionName: 'hello', version: '1', arn: 'arn:aws:lambda:us-east-1:111122223333:function:hello:1',
    runtime: 'nodejs20.x', handler: 'index.handler', codeDir: '/var/lib/pcloud/functions/111122223333/hello/rev2', memoryMiB: 256, timeoutSec: 30,
    environment: env, mode: 'warm', idleSec: 60, region: 'eu-west-1',
  },
  console: {
    key: '111122223333-console-latest', functionName: 'console', version: '$LATEST', arn: 'arn:aws:lambda:us-east-1:111122223333:function:console',
    runtime: 'nodejs20.x', handler: 'index.handler', codeDir: '/var/lib/pcloud/functions/111122223333/console/rev', memoryMiB: 128, timeoutSec: 900,
    environment: { PCLOUD_CONSOLE: 'i-0123456789abcdef0' }, mode: 'warm', idleSec: 60, region: 'us-east-1',
    console: { instanceId: 'i-0123456789abcdef0', vncPath: '/run/pcloud/vm/i-0123456789abcdef0/vnc.sock', idleSec: 300, stateFile: '/var/lib/pcloud/run/console/i.json' },
  },
};

/** The fixtures name this machine's paths by placeholders (they were rendered on another checkout). */
const placeholders = (s: string) => s.replaceAll(projectRoot(), '<root>').replaceAll(process.execPath, '<node>').replaceAll(pythonCommand(), '<python>');
const before = (file: string) => readFileSync(join(fixtures, file), 'utf8');
/** The templates' comments are gone (socket-units.ts says what they said). */
const withoutComments = (text: string) => text.split('\n').filter((l) => !l.startsWith('#')).join('\n');

const host = new FunctionHost({ kind: 'direct' } as UnitManager, '/var/lib/pcloud', '/var/lib/pcloud/run');
const box = {
  uid: 61200, seccomp: '/var/lib/pcloud/run/lambda/sandbox/seccomp.bpf',
  passwd: '/var/lib/pcloud/run/lambda/sandbox/passwd-61200', group: '/var/lib/pcloud/run/lambda/sandbox/group-61200',
};

/** The fixtures were rendered where node is under /usr (nothing more to bind); elsewhere a Node unit binds its prefix too. */
const otherNode = (o: FunctionUnitOptions) => !o.runtime.startsWith('python') && programPrefix(process.execPath).length > 0;

/** A path and the directories above it ('/a/b/c': '/a', '/a/b'). */
const ancestors = (path: string) => path.split('/').slice(1, -1).map((_, i, parts) => `/${parts.slice(0, i + 1).join('/')}`);
/**
 * bubblewrap makes the directories above each mount (`--dir`, in sorted order): those above the checkout depend on
 * where it is (the fixtures were rendered in /work/wt-fnunits). The rest of argv is compared in order, those `--dir`s as
 * a set without the checkout's ancestors.
 */
function checkoutDirsAside(spec: Record<string, unknown>): Record<string, unknown> {
  const aside = new Set([...ancestors(projectRoot()), '/work']);
  const exec = spec.exec as string[];
  const rest: string[] = [];
  const dirs = new Set<string>();
  for (let i = 0; i < exec.length; i++) {
    if (exec[i] === '--dir' && i + 1 < exec.length) {
      const dir = exec[++i]!;
      if (!aside.has(dir)) dirs.add(dir);
    } else {
      rest.push(exec[i]!);
    }
  }
  return { ...spec, exec: rest, dirs: [...dirs].sort() };
}

describe('function units through the unit manager, against before', () => {
  for (const [name, o] of Object.entries(cases)) {
    it.skipIf(otherNode(o))(`${name}: systemd's socket is the same, its service the same but for its Description`, () => {
      const spec = host.unit(o);
      const files = renderSocketUnits(spec);
      expect(placeholders(files.socket.text)).toBe(withoutComments(before(`${name}.socket`)));
      // The service was described as `NAME:VERSION invocation`; it now has the unit's one description.
      let service = withoutComments(before(`${name}.service`))
        .replace(/^Description=.*$/m, `Description=${spec.description.replaceAll('%', '%%')}`);
      if (!o.console) {
        service = service.replace(/^(ExecStart=.*)$/m, `$1 --credentials=${CREDENTIALS_FILE_IN_SANDBOX}`)
          .replace(/^WorkingDirectory=/m, `BindReadOnlyPaths=${credentialsDir(o)}:/run/pcloud-credentials\nWorkingDirectory=`);
      }
      expect(placeholders(files.service.text)).toBe(service);
    });

    it.skipIf(otherNode(o))(`${name}: the direct manager runs the same argv, environment and limits`, () => {
      const old = JSON.parse(before(`${name}.direct.json`)) as Record<string, unknown>;
      const want = {
        ...old,
        // Named as under systemd (an `@` cannot name an Accept=yes socket unit).
        name: `pcloud-fn-${o.key}`,
        // A per-request unit's activator never exits 133 (its invokes do, in processes of their own): no change there.
        restartForceExitStatus: [133],
        // A console proxy cannot gain privileges under the direct manager either (NoNewPrivileges= under systemd).
        exec: o.console ? insertAfter(old.exec as string[], '--', ['setpriv', '--no-new-privs', '--']) : withCredentials(old.exec as string[], o),
      };
      const got = JSON.parse(placeholders(JSON.stringify(directSpec(host.unit(o), o.console ? undefined : box)))) as Record<string, unknown>;
      expect(checkoutDirsAside(got)).toEqual(checkoutDirsAside(want));
    });
  }
});

/** Where a version's credentials are on the host (functions.ts' credentialsFile()), and in its sandbox (at a path of its own). */
const credentialsDir = (o: FunctionUnitOptions) => `/var/lib/pcloud/run/lambda/credentials/${o.key}`;
const CREDENTIALS_FILE_IN_SANDBOX = '/run/pcloud-credentials/credentials.json';

/** The sandbox's argv with the version's credentials directory bound at its own path (after the code, /run made above it), named last. */
function withCredentials(argv: string[], o: FunctionUnitOptions): string[] {
  const afterCode = argv.indexOf('/var/task') + 1;
  const bound = [...argv.slice(0, afterCode), '--ro-bind', credentialsDir(o), '/run/pcloud-credentials', ...argv.slice(afterCode), `--credentials=${CREDENTIALS_FILE_IN_SANDBOX}`];
  // /run made readable above it (checkoutDirsAside compares the `--dir`s as a set).
  return insertAfter(bound, 'bwrap', ['--dir', '/run']);
}

/** argv with `extra` after the first `marker`. */
function insertAfter(argv: string[], marker: string, extra: string[]): string[] {
  const i = argv.indexOf(marker);
  return [...argv.slice(0, i + 1), ...extra, ...argv.slice(i + 1)];
}
