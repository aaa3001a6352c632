/** A deployment package from files, made as users make them (Debian's zip), in a temp dir of its own (removed after). */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function zipOf(files: Record<string, string>, executable: string[] = []): Uint8Array {
  const d = mkdtempSync(join(tmpdir(), 'pcloud-package-'));
  try {
    for (const [name, text] of Object.entries(files)) {
      writeFileSync(join(d, name), text);
      if (executable.includes(name)) chmodSync(join(d, name), 0o755);
    }
    execFileSync('zip', ['-q', '-r', 'package.zip', ...Object.keys(files)], { cwd: d });
    return new Uint8Array(readFileSync(join(d, 'package.zip')));
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}
