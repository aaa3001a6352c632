/**
 * What the direct manager's supervisor runs for a unit with a socket, a sandbox or no new privileges (types.ts): the
 * program wrapped, innermost first, in setpriv (noNewPrivileges) or the sandbox (bubblewrap and setpriv as the unit's
 * user, sandbox.ts), then in `systemd-socket-activate` listening on the socket. The program's environment goes to the
 * innermost wrapper that takes one (the sandbox clears everything else); the supervisor's own stays the unit's.
 */
import { sandboxCommand } from '../sandbox.js';
import type { UnitSpec } from './types.js';

/** The sandbox's host side: the unit's user (sandbox-users.ts), its passwd and group files, the seccomp program. */
export interface SandboxBox {
  uid: number;
  seccomp: string;
  passwd: string;
  group: string;
}

/** The spec as the supervisor runs it: no socket, sandbox or noNewPrivileges left, only argv and environment. */
export function directSpec(spec: UnitSpec, box?: SandboxBox): UnitSpec {
  const { socket, sandbox, noNewPrivileges, ...plain } = spec;
  let exec = spec.exec;
  let env = spec.env;
  if (sandbox) {
    if (!box) throw new Error(`unit ${spec.name}: a sandboxed program runs only in its sandbox`);
    exec = sandboxCommand({ ...box, codeDir: sandbox.code, optDir: sandbox.opt, credentialsDir: sandbox.credentials, readOnly: sandbox.readOnly, env: env ?? {}, command: exec });
    env = undefined;
  } else if (noNewPrivileges) {
    exec = ['setpriv', '--no-new-privs', '--', ...exec];
  }
  if (socket) {
    exec = ['systemd-socket-activate', '-l', socket.listen, ...(socket.accept ? ['--accept'] : []),
      ...Object.entries(env ?? {}).map(([k, v]) => `--setenv=${k}=${v}`), '--', ...exec];
    env = undefined;
  }
  const out: UnitSpec = { ...plain, exec };
  if (env) out.env = env;
  else delete out.env;
  return out;
}
