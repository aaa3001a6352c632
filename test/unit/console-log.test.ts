/**
 * A unit's console stays bounded under the direct manager (console-log.ts): the rotating log on its own, the tail
 * read across its two files, the command that prints and follows it, and real supervisors (compiled: run `npm run
 * build` first) copying what their main process writes through a pipe.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectUnitManager } from '../../src/host/units/direct.js';
import { alive } from '../../src/host/units/proc.js';
import {
  CONSOLE_LOG, CONSOLE_LOG_OLD, DEFAULT_CONSOLE_LOG_BYTES, RotatingLog, consoleCommand, consoleLogBytes, readConsoleTail,
} from '../../src/host/units/console-log.js';
import { isFinal, type UnitSpec } from '../../src/host/units/types.js';
import { waitFor } from '../support/wait.js';

const base = mkdtempSync(join(tmpdir(), 'pcloud-console-'));
const managers: DirectUnitManager[] = [];
let dirs = 0;
const freshDir = () => {
  const d = join(base, `d${dirs++}`);
  mkdirSync(d);
  return d;
};

function manager(bound?: number): DirectUnitManager {
  const m = new DirectUnitManager(join(base, 'run'), { consoleLogBytes: bound });
  managers.push(m);
  return m;
}

const until = <T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000): Promise<T> =>
  waitFor(what, fn, timeoutMs);

const unit = (name: string, script: string, extra: Partial<UnitSpec> = {}): UnitSpec => ({
  name, description: 'test', exec: ['sh', '-c', script], type: 'simple', startTimeoutSec: 5, stopTimeoutSec: 5, ...extra,
});
const ended = (m: DirectUnitManager, name: string) =>
  until(`${name} ended`, async () => { const s = await m.status(name); return s && isFinal(s.state) && s; });
const unitDir = (name: string) => join(base, 'run', 'units', name);
const consoleBytesOnDisk = (dir: string) =>
  readdirSync(dir).filter((f) => f.startsWith('console')).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
/** What `seq 1 N` prints. */
const seq = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => `${i + 1}\n`).join(''));

afterEach(async () => {
  for (const m of managers.splice(0)) {
    for (const u of await m.list('pcloud-t')) await m.remove(u.name);
    m.close();
  }
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('consoleLogBytes (PCLOUD_CONSOLE_LOG_BYTES)', () => {
  it('is 1 MiB unless set, a whole number of bytes of at least 4096 when set', () => {
    expect(consoleLogBytes(undefined)).toBe(DEFAULT_CONSOLE_LOG_BYTES);
    expect(consoleLogBytes('')).toBe(1024 * 1024);
    expect(consoleLogBytes('65536')).toBe(65536);
    for (const bad of ['1e9', '-5', '0x1000', '4096 ', '4095', '0', 'lots', '99999999999999999999', '1;rm -rf /', '\n4096']) {
      expect(() => consoleLogBytes(bad), bad).toThrow(/PCLOUD_CONSOLE_LOG_BYTES=.*whole number of bytes, at least 4096/);
    }
  });
});

describe('RotatingLog', () => {
  it('never lets a file pass the bound, and its two files end with the latest bytes written', () => {
    const dir = freshDir();
    const log = new RotatingLog(dir, 5000);
    const all = seq(20_000);
    // Chunks smaller and larger than the bound, and larger than both files together.
    for (let at = 0, i = 0; at < all.length; i++) {
      const n = [1, 700, 4999, 5000, 12_345][i % 5]!;
      log.write(all.subarray(at, at + n));
      at += n;
      expect(statSync(join(dir, CONSOLE_LOG)).size).toBeLessThanOrEqual(5000);
    }
    log.close();
    const old = readFileSync(join(dir, CONSOLE_LOG_OLD));
    const cur = readFileSync(join(dir, CONSOLE_LOG));
    expect(old.length).toBe(5000);
    expect(Buffer.concat([old, cur]).equals(all.subarray(all.length - old.length - cur.length))).toBe(true);
  });

  it('appends to the console a previous run left, and rotates it once it is past the bound', () => {
    const dir = freshDir();
    writeFileSync(join(dir, CONSOLE_LOG), 'x'.repeat(9000)); // e.g. written before consoles were bounded
    const log = new RotatingLog(dir, 5000);
    log.write(Buffer.from('after\n'));
    log.close();
    expect(statSync(join(dir, CONSOLE_LOG_OLD)).size).toBe(9000);
    expect(readFileSync(join(dir, CONSOLE_LOG), 'utf8')).toBe('after\n');
  });

  it('loses output it cannot write, not itself: it writes again once it can', () => {
    const dir = freshDir();
    const log = new RotatingLog(dir, 5000);
    rmSync(dir, { recursive: true });
    expect(() => log.write(Buffer.alloc(12_000, 'a'))).not.toThrow();
    mkdirSync(dir);
    log.write(Buffer.from('back\n'));
    log.close();
    expect(readFileSync(join(dir, CONSOLE_LOG), 'utf8')).toBe('back\n');
  });
});

describe('readConsoleTail', () => {
  it('returns the last bytes across console.log.1 and console.log, whichever files there are', async () => {
    const dir = freshDir();
    expect((await readConsoleTail(dir, 100)).length).toBe(0);
    writeFileSync(join(dir, CONSOLE_LOG), 'newer\n');
    expect((await readConsoleTail(dir, 100)).toString()).toBe('newer\n');
    expect((await readConsoleTail(dir, 3)).toString()).toBe('er\n');
    writeFileSync(join(dir, CONSOLE_LOG_OLD), 'older\n');
    expect((await readConsoleTail(dir, 100)).toString()).toBe('older\nnewer\n');
    expect((await readConsoleTail(dir, 8)).toString()).toBe('r\nnewer\n');
    rmSync(join(dir, CONSOLE_LOG));
    expect((await readConsoleTail(dir, 4)).toString()).toBe('der\n');
  });

  it('is contiguous while a supervisor rotates the log under it many times a second', async () => {
    const m = manager(4096);
    await m.start(unit('pcloud-t-race', 'seq 1 1500000'));
    let reads = 0;
    for (;;) {
      const st = await m.status('pcloud-t-race');
      const tail = (await m.logs('pcloud-t-race', 6000)).toString().split('\n').slice(1, -1).map(Number);
      reads++;
      // One run of numbers, each one more than the one before it: never two files that are not one after the other.
      tail.forEach((v, i) => { if (i && v !== tail[i - 1]! + 1) throw new Error(`read ${reads}: ${tail[i - 1]} then ${v}`); });
      if (st && isFinal(st.state)) break;
    }
    expect(reads).toBeGreaterThan(1);
  });
});

describe('consoleCommand', () => {
  it('prints console.log.1 then console.log; paths are arguments, never shell', () => {
    // A data dir with shell in its name: nothing of it runs.
    const hostile = join(base, `a;touch pwned;$(touch pwned2)\`touch pwned3\`"'\n%{}$HOME`);
    mkdirSync(hostile);
    expect(execFileSync(consoleCommand(hostile, false)[0]!, consoleCommand(hostile, false).slice(1), { cwd: base }).toString()).toBe('');
    writeFileSync(join(hostile, CONSOLE_LOG), 'newer\n');
    const [cmd, ...args] = consoleCommand(hostile, false);
    expect(execFileSync(cmd!, args, { cwd: base }).toString()).toBe('newer\n');
    writeFileSync(join(hostile, CONSOLE_LOG_OLD), 'older\n');
    expect(execFileSync(cmd!, args, { cwd: base }).toString()).toBe('older\nnewer\n');
    expect(readdirSync(base).filter((f) => f.startsWith('pwned'))).toEqual([]);
  });
});

describe('a unit under a real supervisor', () => {
  it('writing 20 MB leaves at most two bounds on disk, and logs() returns its last bytes across a rotation', async () => {
    const m = manager(); // the default bound, 1 MiB
    await m.start(unit('pcloud-t-flood', 'seq 1 2700000')); // 20.3 MB
    expect(await ended(m, 'pcloud-t-flood')).toMatchObject({ state: 'inactive', result: 'success' });
    const dir = unitDir('pcloud-t-flood');
    const all = seq(2_700_000);
    expect(all.length).toBeGreaterThan(20_000_000);
    expect(consoleBytesOnDisk(dir)).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect(statSync(join(dir, CONSOLE_LOG_OLD)).size).toBe(1024 * 1024);
    // GetConsoleOutput's 64 KB, and more than console.log holds: both end with the last line written.
    for (const want of [64 * 1024, 1024 * 1024 + 10]) {
      const got = await m.logs('pcloud-t-flood', want);
      expect(got.length).toBe(want);
      expect(got.equals(all.subarray(all.length - want))).toBe(true);
    }
    expect((await m.logs('pcloud-t-flood', 64 * 1024 * 1024)).length).toBe(consoleBytesOnDisk(dir));
  });

  it('writes to a pipe, not a socket (/dev/stdout opens), and keeps it across restarts of its main process', async () => {
    const m = manager();
    const flag = join(base, 'restarted');
    const script = join(base, 'restarts.sh');
    // Exit 133 (nspawn's reboot) starts it again: the second run writes after the first, into the same console. The
    // first run's node makes its stdout non-blocking (and, killed, cannot undo it): the second still starts with a
    // blocking one (a write end of its own), what programs expect.
    writeFileSync(script, `nonblocking() { [ $(( 0$(sed -n 's/^flags:[[:space:]]*//p' /proc/$$/fdinfo/1) & 04000 )) -ne 0 ] && echo non-blocking; }
if [ -e '${flag}' ]; then echo second >/dev/stdout; nonblocking; exit 0; fi
touch '${flag}'
sh -c '"$0" -e "process.stdout.write(String.fromCharCode(102, 105, 114, 115, 116, 10)); process.kill(process.pid, 9)"; :' '${process.execPath}' 2>/dev/null
nonblocking
echo err >&2
exit 133
`);
    await m.start(unit('pcloud-t-pipe', `. '${script}'`, { restartForceExitStatus: [133] }));
    expect(await ended(m, 'pcloud-t-pipe')).toMatchObject({ state: 'inactive', result: 'success' });
    expect((await m.logs('pcloud-t-pipe', 1000)).toString()).toBe('first\nnon-blocking\nerr\nsecond\n');
  });

  it('a console that cannot be set up fails the start, saying so, and runs nothing', async () => {
    const m = manager();
    const path = process.env.PATH;
    process.env.PATH = join(base, 'no-such-dir'); // the supervisor's PATH: no mkfifo there
    try {
      await m.start({ ...unit('pcloud-t-noconsole', ''), exec: ['/bin/touch', join(base, 'ran')] });
    } finally {
      process.env.PATH = path;
    }
    expect(await ended(m, 'pcloud-t-noconsole')).toMatchObject({ state: 'failed', result: 'start-failed', statusText: 'its console could not be set up' });
    expect(existsSync(join(base, 'ran'))).toBe(false);
    expect(readFileSync(join(unitDir('pcloud-t-noconsole'), 'supervisor.log'), 'utf8')).toContain('console: ');
  });

  it('a stopped supervisor holds its writer back (a full pipe) without losing it, and it goes on when continued', async () => {
    const m = manager(64 * 1024);
    await m.start(unit('pcloud-t-slow', 'seq 1 3000000; echo done'));
    const st = await until('active', async () => { const s = await m.status('pcloud-t-slow'); return s?.state === 'active' && s; });
    const sup = Number(readFileSync(join(unitDir('pcloud-t-slow'), 'supervisor.pid'), 'utf8').split(' ')[0]);
    process.kill(sup, 'SIGSTOP');
    try {
      // seq (the main shell's child) blocks writing into the full pipe: nothing of the unit dies meanwhile.
      const writer = await until('a writer blocked on the pipe', () => {
        const kids = readFileSync(`/proc/${st.mainPid}/task/${st.mainPid}/children`, 'utf8').trim().split(' ').filter(Boolean);
        return kids.find((k) => /pipe_write/.test(readFileSync(`/proc/${k}/wchan`, 'utf8')));
      });
      expect(alive(Number(writer))).toBe(true);
      expect(alive(st.mainPid)).toBe(true);
      expect((await m.status('pcloud-t-slow'))?.state).toBe('active');
    } finally {
      process.kill(sup, 'SIGCONT');
    }
    expect(await ended(m, 'pcloud-t-slow')).toMatchObject({ state: 'inactive', result: 'success' });
    expect((await m.logs('pcloud-t-slow', 20)).toString()).toBe('2999998\n2999999\n3000000\ndone\n'.slice(-20));
    expect(consoleBytesOnDisk(unitDir('pcloud-t-slow'))).toBeLessThanOrEqual(2 * 64 * 1024);
  });

  it('`logs -f` (logCommand) keeps following the console across its rotations', async () => {
    const m = manager(4096);
    const go = join(base, 'go');
    mkdirSync(go);
    // Lock-step: it writes a line of 2999 bytes, then waits for the test to have seen it; a rotation every line or two.
    const steps = 6;
    const line = (i: number) => `${i}:${'x'.repeat(2997 - String(i).length)}\n`;
    await m.start(unit('pcloud-t-follow',
      `i=1; while [ $i -le ${steps} ]; do printf '%s:' $i; head -c $((2997 - \${#i})) /dev/zero | tr '\\0' x; echo;` +
      ` while [ ! -e '${go}'/$i ]; do sleep 0.01; done; i=$((i + 1)); done; sleep 1000`));
    const [cmd, ...args] = m.logCommand('pcloud-t-follow', true);
    const tail = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let seen = '';
    tail.stdout.on('data', (b: Buffer) => { seen += b.toString(); });
    try {
      for (let i = 1; i <= steps; i++) {
        await until(`line ${i} followed`, () => seen.endsWith(line(i)));
        writeFileSync(join(go, String(i)), '');
      }
      expect(seen).toBe(Array.from({ length: steps }, (_, i) => line(i + 1)).join(''));
      expect(existsSync(join(unitDir('pcloud-t-follow'), CONSOLE_LOG_OLD))).toBe(true);
    } finally {
      tail.kill();
    }
  });
});
