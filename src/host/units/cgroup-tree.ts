/**
 * A unit's cgroup as a tree: the main process may make cgroups below its own (nspawn does, with Delegate=yes), so
 * what is in a unit, and what must go when it is removed, is the whole subtree. Used by the direct manager and its
 * supervisors alike (cgroupfs reads are answered by the kernel: synchronous calls cost nothing worth a promise).
 */
import { readFileSync, readdirSync, rmdirSync, type Dirent } from 'node:fs';
import { join } from 'node:path';

/** Every pid in the cgroup at `path` and in the cgroups below it (none if it does not exist), added to `into`. */
export function cgroupTreePids(path: string, into: Set<number> = new Set()): Set<number> {
  let procs = '';
  try { procs = readFileSync(join(path, 'cgroup.procs'), 'utf8'); } catch { return into; }
  for (const p of procs.split('\n')) if (p) into.add(Number(p));
  let entries: Dirent[] = [];
  try { entries = readdirSync(path, { withFileTypes: true }); } catch { /* gone meanwhile */ }
  for (const e of entries) if (e.isDirectory()) cgroupTreePids(join(path, e.name), into);
  return into;
}

/** Remove the cgroup at `path` and those below it, deepest first: true once it is gone (false while a process holds one). */
export function removeCgroupTree(path: string): boolean {
  try {
    for (const e of readdirSync(path, { withFileTypes: true })) if (e.isDirectory()) removeCgroupTree(join(path, e.name));
    rmdirSync(path);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}
