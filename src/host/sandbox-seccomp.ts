/**
 * The seccomp program of sandboxed functions (the direct manager's SystemCallFilter=): made by sandbox-seccomp.py with
 * libseccomp (Debian's python3-seccomp, on Debian's own python3), once per server process, into the run directory.
 * Made only where the sandbox's programs are there (bwrap, setpriv): a host without them is told so at the first
 * function, not at every invoke's failed exec.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { projectRoot } from '../paths.js';
import { run, which } from './exec.js';

const made = new Map<string, Promise<string>>();

/** The BPF file in dir (made if this process has not made it yet). */
export function seccompProgram(dir: string): Promise<string> {
  let p = made.get(dir);
  if (!p) {
    p = make(dir);
    made.set(dir, p);
    p.catch(() => made.delete(dir));
  }
  return p;
}

async function make(dir: string): Promise<string> {
  for (const [program, pkg] of [['bwrap', 'bubblewrap'], ['setpriv', 'util-linux']]) {
    if (!(await which(program!))) throw new Error(`Functions cannot be sandboxed on this host: ${program} is missing (Debian package ${pkg}; .ci/setup-host installs it).`);
  }
  const python = '/usr/bin/python3';
  if (!existsSync(python)) throw new Error('Functions cannot be sandboxed on this host: Debian\'s python3 and python3-seccomp are missing (.ci/setup-host installs them).');
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'seccomp.bpf');
  const res = await run(python, [join(projectRoot(), 'src/host/sandbox-seccomp.py'), file], { reject: false });
  if (res.exitCode !== 0) {
    throw new Error(`Functions cannot be sandboxed on this host: the seccomp filter could not be made (is python3-seccomp installed?): ${res.stderr.trim().split('\n').pop()}`);
  }
  return file;
}
