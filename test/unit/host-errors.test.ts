/**
 * The boundary between host failures and the API (src/cloud/errors/host.ts): a host failure's detail (command line,
 * PID, addresses, paths) never reaches the text a user reads; a domain error passes as it is; anything else is
 * InternalError, worded generically.
 */
import { describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { CloudError } from '../../src/cloud/errors.js';
import { failureDetail, hostFailure, hostText, INTERNAL_MESSAGE } from '../../src/cloud/errors/host.js';

/** What must never reach a response. */
const SECRETS = ['nsenter', '48213', '10.213.0.1', '169.254.77.1', '/var/lib/pcloud', 'fd00:7:1::2', 'Command failed'];

/** A real ExecaError, as a driver's failed mount makes it (sh stands in for nsenter, which takes the same arguments). */
async function hostileExecaError(): Promise<Error> {
  const script = 'echo "mount.nfs4: mounting 10.213.0.1:/vol-1 failed, reason given by server: No such file or directory (via 169.254.77.1, fd00:7:1::2)" >&2; exit 32';
  return execa('sh', ['-c', script, 'nsenter', '-t', '48213', '-m', '--', 'mount', '-t', 'nfs4', '10.213.0.1:/vol-1', '/var/lib/pcloud/volumes/vol-1']).then(
    () => { throw new Error('sh did not fail'); }, (e: Error) => e);
}

const leaks = (text: string) => SECRETS.filter((s) => text.includes(s));

describe('hostText', () => {
  it('keeps what a user can read, drops command lines, paths, addresses and PIDs', async () => {
    const err = await hostileExecaError();
    expect(leaks(err.message).length).toBeGreaterThan(3); // the test's own premise: the error carries them
    expect(leaks(hostText(err.message))).toEqual([]);
    expect(hostText('error: cannot create /var/lib/pcloud/functions/1/f/x/a.txt: Permission denied')).toBe('error: cannot create <path>: Permission denied');
    expect(hostText('connect ECONNREFUSED 10.213.0.1:2049 from pid 48213')).toBe('connect ECONNREFUSED <address> from pid <pid>');
    expect(hostText('nsenter -t 48213 -m mount')).toBe('nsenter -t <pid> -m mount');
    expect(hostText('peer fe80::1:2 and fd00:7:1::2 and ::1')).toBe('peer <address> and <address> and <address>');
    expect(hostText('a relative path stays: lib/index.js, and 3 files')).toBe('a relative path stays: lib/index.js, and 3 files');
  });

  it('takes out control characters and bounds the length', () => {
    expect(hostText('line one\nline two\r\u0000\u001b[31mred\u2028')).toBe('line one line two [31mred');
    const long = hostText('x'.repeat(100_000));
    expect(long.length).toBe(200);
    expect(long.endsWith('…')).toBe(true);
    expect(hostText('a'.repeat(50), 10)).toBe(`${'a'.repeat(9)}…`);
  });
});

describe('hostFailure', () => {
  it('answers a host failure as InternalError, generically, with the detail for the log only', async () => {
    const err = await hostileExecaError();
    const out = hostFailure(err, 'mounting vol-1 in i-1');
    expect([out.code, out.message]).toEqual(['InternalError', INTERNAL_MESSAGE]);
    expect(failureDetail(err)).toContain('nsenter');
    expect(failureDetail(err)).toContain('mount.nfs4');
    expect(failureDetail('plain')).toBe('plain');
  });

  it('words a failure the user can act on as the refusal says, and passes a domain error as it is', async () => {
    const err = await hostileExecaError();
    const refusal = new CloudError('UnsupportedOperation', 'use a VM instance type');
    expect(hostFailure(err, 'x', () => refusal)).toBe(refusal);
    expect(hostFailure(err, 'x', () => undefined).code).toBe('InternalError');
    const domain = new CloudError('AttachmentLimitExceeded', 'no free slot');
    expect(hostFailure(domain, 'x', () => refusal)).toBe(domain);
  });
});

describe('the boundary holds across the source', () => {
  /** Errors whose message is pcloud's own words or the request's own content, never a host's. */
  const OWN = /\binstanceof (CloudError|AuthError|BadPathEncoding|JsonShapeError|MatchBudgetExceeded|ReservedConcurrencyExceeded|UnsafeImageError|JoinRefused)\b/;
  /** An answer to a user (a CloudError, an API error response, a refusal on a socket) ... */
  const ANSWER = /\b(new CloudError|invalidParam|invalid|ec2Error|lambdaError|stsError|errorFor|refuse)\(/;
  /** ... built from what a failure says (not a catalogue's wording, `.message(id)`). */
  const FROM_FAILURE = /\.(message|stderr|stdout|shortMessage|command|escapedCommand)\b(?!\??\.?\()|String\(err|`\$\{err\}/;

  it('no API answer quotes a failure, but through hostText() or of an error that is pcloud\'s own words', async () => {
    const offenders: string[] = [];
    for (const top of ['src/cloud', 'src/api', 'src/imds']) {
      for (const f of await readdir(top, { recursive: true })) {
        if (!f.endsWith('.ts')) continue;
        const lines = (await readFile(join(top, f), 'utf8')).split('\n');
        lines.forEach((line, i) => {
          if (!ANSWER.test(line) || !FROM_FAILURE.test(line) || line.includes('hostText(')) return;
          if (OWN.test(lines.slice(Math.max(0, i - 3), i + 1).join('\n'))) return;
          offenders.push(`${top}/${f}:${i + 1}: ${line.trim()}`);
        });
      }
    }
    expect(offenders).toEqual([]);
  });
});
