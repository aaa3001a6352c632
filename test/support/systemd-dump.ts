/**
 * What systemd's own parser makes of a unit file, on a host whose PID 1 is not systemd: `systemd --test --system`
 * (as an unprivileged user: it refuses root) loads the unit with systemd's parser and dumps what it understood.
 */
import { expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What systemd's own parser makes of a unit file: the dump of that unit (`systemd --test`). */
export function systemdDump(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pcloud-render-'));
  try {
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, name), text, { mode: 0o644 });
    const asUser = process.getuid?.() === 0 ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'] : [];
    const cmd = [...asUser, '/lib/systemd/systemd', '--test', '--system', `--unit=${name}`, '--log-level=err'];
    const res = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` }, maxBuffer: 256 * 2 ** 20 });
    expect(res.status, res.stderr.slice(0, 2000)).toBe(0);
    const start = res.stdout.indexOf(`\t-> Unit ${name}:\n`);
    expect(start).toBeGreaterThanOrEqual(0);
    const end = res.stdout.indexOf('\n\t-> Unit ', start + 1);
    return res.stdout.slice(start, end < 0 ? undefined : end + 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The field's text in a dump: from `\t\tKey: ` to the next line that starts another field (values may hold newlines). */
export function between(dump: string, from: string, to: string): string {
  const a = dump.indexOf(from);
  const b = dump.indexOf(to, a);
  expect(a, from).toBeGreaterThanOrEqual(0);
  expect(b, to).toBeGreaterThan(a);
  return dump.slice(a + from.length, b);
}

/** Decode systemd's `Command Line:` (its quote_command_line: words, "..." with backslash escapes, octal for control bytes). */
export function decodeCommandLine(s: string): string[] {
  const bytes = Buffer.from(s, 'utf8');
  const words: string[] = [];
  const simple: Record<string, number> = { n: 10, t: 9, r: 13, a: 7, b: 8, f: 12, v: 11 };
  let i = 0;
  while (i < bytes.length) {
    const out: number[] = [];
    if (bytes[i] === 0x22) {
      i++;
      for (;;) {
        const c = bytes[i++]!;
        if (c === 0x22) break;
        if (c !== 0x5c) { out.push(c); continue; }
        const e = String.fromCharCode(bytes[i++]!);
        if (e in simple) out.push(simple[e]!);
        else if (/[0-7]/.test(e)) { out.push(parseInt(e + String.fromCharCode(bytes[i]!, bytes[i + 1]!), 8)); i += 2; }
        else out.push(e.charCodeAt(0));
      }
    } else {
      while (i < bytes.length && bytes[i] !== 0x20) out.push(bytes[i++]!);
    }
    words.push(Buffer.from(out).toString('utf8'));
    expect(i === bytes.length || bytes[i] === 0x20).toBe(true);
    i++;
  }
  return words;
}
