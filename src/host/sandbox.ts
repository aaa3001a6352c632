/**
 * The sandbox a Lambda handler runs in under the direct unit manager (hosts whose PID 1 is not systemd): a sandboxed
 * unit (units/types.ts' UnitSandbox) as units/direct-spec.ts renders it, giving what systemd is asked for the same
 * unit (units/socket-units.ts): DynamicUser, ProtectSystem=strict, ProtectHome, PrivateTmp, PrivateDevices,
 * NoNewPrivileges, SystemCallFilter, RestrictAddressFamilies, RestrictNamespaces. The runtime's command becomes
 *
 *   sh -c 'exec "$@" 9<"$0"' SECCOMP.bpf bwrap [a fresh mount, PID, IPC, UTS and cgroup namespace] --seccomp 9 \
 *     -- setpriv --reuid=UID --regid=UID --clear-groups --no-new-privs --bounding-set=-all --inh-caps=-all -- RUNTIME...
 *
 * bwrap (Debian's bubblewrap, run by root: no user namespace, so the uid the handler gets is a real unprivileged one)
 * builds a root of read-only binds: /usr (and the merged-/usr links), a few files of /etc, the function's code at
 * /var/task, the runtime's own files; a private tmpfs /tmp, a new /proc and a minimal /dev. Nothing else of the host
 * exists in there: not the data dir, /root, /home, /run or the rest of /etc. The seccomp filter (sandbox-seccomp.py)
 * is loaded last, before setpriv drops every capability and the uid (the function's own, sandbox-users.ts). The
 * request's fd 3 (and stdout/stderr to the unit's log) pass through; the environment is only what is given here.
 * The unit manager's cgroup limits (memory, tasks, CPU) hold the whole tree.
 */
import { existsSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';

/** Where a function's code is inside its sandbox, under both managers (as on Lambda). */
export const TASK_ROOT = '/var/task';

/** Where a function's layers are inside its sandbox, merged in order (as on Lambda). */
export const OPT_ROOT = '/opt';
/** Where a function's role credentials (a directory of its own on the host, functions.ts) are, read-only. */
export const CREDENTIALS_ROOT = '/run/pcloud-credentials';

/** What of /etc a runtime needs: the loader's cache, name resolution, TLS roots, time zones, alternatives' links. */
const ETC = ['ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'resolv.conf', 'hosts', 'host.conf', 'nsswitch.conf', 'gai.conf', 'protocols',
  'services', 'ssl', 'ca-certificates', 'localtime', 'alternatives', 'mime.types'].map((f) => `/etc/${f}`);

/** bwrap's read-only system: Debian's merged /usr, and the links to it. */
export const USR_ROOT: readonly string[] = ['--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/sbin', '/sbin',
  '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64'];

/** Private /tmp: Lambda's default ephemeral storage (its pages count against the unit's memory limit too). */
const TMP_BYTES = 512 * 2 ** 20;

export interface SandboxSpec {
  /** The function's own user and group (never 0). */
  uid: number;
  /** The function's code on the host: read-only at TASK_ROOT. */
  codeDir: string;
  /** The function's layers, merged (layers.ts), on the host: read-only at OPT_ROOT. */
  optDir?: string;
  /** The function's credentials directory on the host: read-only at CREDENTIALS_ROOT. */
  credentialsDir?: string;
  /** Host files or directories the runtime needs outside /usr (its shim, an interpreter elsewhere): read-only, same path. */
  readOnly: string[];
  /** The seccomp BPF program (sandbox-seccomp.py). */
  seccomp: string;
  /** An /etc/passwd and /etc/group naming the function's user (so `whoami`, os.userInfo() work). */
  passwd: string;
  group: string;
  /** The whole environment the runtime gets. */
  env: Record<string, string>;
  command: string[];
}

/** The command that runs spec.command in its sandbox (argv: nothing here goes through a shell's parsing but "$@"). */
export function sandboxCommand(s: SandboxSpec): string[] {
  if (!Number.isInteger(s.uid) || s.uid <= 0 || s.uid > 65534) throw new Error(`not a sandbox user: ${s.uid}`);
  // /opt is the layers' only: a runtime installed under it on the host would be shadowed (or shadow the layers).
  if (s.optDir && s.readOnly.some((p) => p === OPT_ROOT || p.startsWith(`${OPT_ROOT}/`))) {
    throw new Error(`a function with layers cannot run where its runtime is under ${OPT_ROOT} on the host: install it elsewhere (PCLOUD_PYTHON, node)`);
  }
  const bwrap = ['bwrap', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', '--die-with-parent', '--new-session',
    ...USR_ROOT,
    // The directories leading to what is bound, readable (bwrap would make them 0700, root's only).
    ...ancestors(['/etc/passwd', ...s.readOnly, TASK_ROOT, ...(s.credentialsDir ? [CREDENTIALS_ROOT] : [])]).flatMap((d) => ['--dir', d]),
    ...ETC.flatMap((p) => ['--ro-bind-try', p, p]),
    '--ro-bind', s.passwd, '/etc/passwd', '--ro-bind', s.group, '/etc/group',
    ...s.readOnly.flatMap((p) => ['--ro-bind', p, p]),
    '--ro-bind', s.codeDir, TASK_ROOT,
    ...(s.optDir ? ['--ro-bind', s.optDir, OPT_ROOT] : []),
    ...(s.credentialsDir ? ['--ro-bind', s.credentialsDir, CREDENTIALS_ROOT] : []),
    '--proc', '/proc', '--dev', '/dev', '--perms', '1777', '--size', String(TMP_BYTES), '--tmpfs', '/tmp',
    '--chdir', TASK_ROOT, '--clearenv', ...Object.entries(s.env).flatMap(([k, v]) => ['--setenv', k, v]),
    '--seccomp', '9', '--'];
  const setpriv = ['setpriv', `--reuid=${s.uid}`, `--regid=${s.uid}`, '--clear-groups', '--no-new-privs', '--bounding-set=-all',
    '--inh-caps=-all', '--'];
  return ['/bin/sh', '-c', 'exec "$@" 9<"$0"', s.seccomp, ...bwrap, ...setpriv, ...s.command];
}

/** Every directory above the paths (not /), parents first, once each. */
function ancestors(paths: string[]): string[] {
  const dirs = new Set<string>();
  for (const p of paths) {
    const parts = p.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) dirs.add(`/${parts.slice(0, i).join('/')}`);
  }
  return [...dirs];
}

/**
 * A host path the sandbox must see for a program to run: nothing when it is under /usr (bound already), else the
 * program's prefix (`/opt/node/bin/node` → /opt/node), read-only.
 */
export function programPrefix(program: string): string[] {
  const real = existsSync(program) ? realpathSync(program) : program;
  if (real.startsWith('/usr/')) return [];
  return [dirname(dirname(real))];
}

/** The passwd and group lines of the sandbox's users: root (owner of everything read-only) and the function's. */
export function passwdFiles(uid: number): { passwd: string; group: string } {
  return {
    passwd: `root:x:0:0:root:/root:/usr/sbin/nologin\nsbx_user${uid}:x:${uid}:${uid}::/tmp:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
    group: `root:x:0:\nsbx_user${uid}:x:${uid}:\nnogroup:x:65534:\n`,
  };
}
