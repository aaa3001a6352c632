/**
 * The access log's writer (src/api/access-log.ts): whatever a record's values hold, each is one line of JSON that reads
 * back to them; a file is appended to (mode 0640) and opened again by its name after a rotation renamed it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accessLogOn, openAccessLog } from '../../src/api/access-log.js';
import type { ApiCall } from '../../src/api/calls.js';
import { HOSTILE, NUL } from '../support/hostile.js';

const dir = mkdtempSync(join(tmpdir(), 'pcloud-access-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const call = (over: Partial<ApiCall> = {}): ApiCall => ({ requestId: 'r-1', service: 'ec2', action: 'DescribeVpcs', status: 200, ms: 1.234, ...over });

async function waitForFile(path: string, has: string): Promise<string> {
  for (let i = 0; i < 500; i++) {
    const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
    if (text.includes(has)) return text;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${path} never had ${has}`);
}

describe('access log writer', () => {
  it('writes each record as one JSON line that reads back to its values, hostile or not', () => {
    const lines: string[] = [];
    const log = accessLogOn({ write: (s: string) => void lines.push(s) });
    const values = [...Object.values(HOSTILE), NUL];
    for (const v of values) log.write(call({ principalArn: v, accountId: v, sourceIp: v, errorCode: v }));
    expect(lines).toHaveLength(values.length);
    lines.forEach((l, i) => {
      expect(l.endsWith('\n') && !l.slice(0, -1).includes('\n') && !l.includes('\r')).toBe(true);
      const v = values[i]!;
      expect(JSON.parse(l)).toMatchObject({ requestId: 'r-1', service: 'ec2', action: 'DescribeVpcs', status: 200, ms: 1.2, principal: v, account: v, sourceIp: v, errorCode: v });
    });
  });

  it('leaves out what a record does not have', () => {
    const lines: string[] = [];
    accessLogOn({ write: (s: string) => void lines.push(s) }).write(call({ action: undefined }));
    expect(Object.keys(JSON.parse(lines[0]!) as object).sort()).toEqual(['ms', 'requestId', 'service', 'status', 'time']);
  });

  it('appends to a file (0640, its directory made), and opens it again by its name after a rotation', async () => {
    const file = join(dir, 'logs', 'access.log');
    const log = openAccessLog(file);
    log.write(call({ requestId: 'before' }));
    await waitForFile(file, '"before"');
    expect(statSync(file).mode & 0o777).toBe(0o640);
    renameSync(file, `${file}.1`);
    log.reopen();
    log.write(call({ requestId: 'after' }));
    await waitForFile(file, '"after"');
    log.flush();
    expect(readFileSync(`${file}.1`, 'utf8')).not.toContain('"after"');
    expect(readFileSync(file, 'utf8')).not.toContain('"before"');
  });

  it('refuses a file it cannot open, at once', () => {
    expect(() => openAccessLog(join(dir, 'no-such-dir-file'))).not.toThrow();
    expect(() => openAccessLog(dir)).toThrow(/EISDIR/);
  });
});
