import { describe, expect, it } from 'vitest';
import aws4 from 'aws4';
import { createHash } from 'node:crypto';
import { AuthError, verify } from '../../src/api/auth/sigv4.js';

const key = { accessKeyId: 'AKIDUNIT', secretAccessKey: 'unit-secret', accountId: '123456789012' };
const lookup = (id: string) => (id === key.accessKeyId ? key : undefined);

function signed(opts: { body?: string; secret?: string; date?: Date; path?: string; service?: string; extra?: Record<string, string> } = {}) {
  const body = opts.body ?? 'Action=DescribeRegions&Version=2016-11-15';
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8', ...opts.extra };
  if (opts.date) headers['X-Amz-Date'] = opts.date.toISOString().replace(/[:-]|\.\d{3}/g, '');
  const req = aws4.sign({ host: 'localhost:8773', method: 'POST', path: opts.path ?? '/', body, service: opts.service ?? 'ec2', region: 'us-east-1', headers },
    { accessKeyId: key.accessKeyId, secretAccessKey: opts.secret ?? key.secretAccessKey });
  const h = new Headers();
  for (const [k, v] of Object.entries(req.headers ?? {})) h.set(k, String(v));
  return { method: 'POST', url: req.path!, headers: h, body: Buffer.from(body) };
}

async function code(fn: () => unknown): Promise<string | undefined> {
  try { await fn(); } catch (e) { return e instanceof AuthError ? e.code : 'other'; }
  return undefined;
}

describe('SigV4 verification', () => {
  it('accepts a correctly signed request and names the account, region and service', async () => {
    expect(await verify(signed(), lookup)).toEqual({ accountId: '123456789012', accessKeyId: 'AKIDUNIT', region: 'us-east-1', service: 'ec2', identity: { kind: 'root', accountId: '123456789012' } });
    expect((await verify(signed({ path: '/2015-03-31/functions?x=1&a=b%20c', service: 'lambda' }), lookup)).service).toBe('lambda');
  });

  it('refuses a wrong secret, an unknown key, a changed body, a changed signed header and clock skew', async () => {
    expect(await code(() => verify(signed({ secret: 'wrong' }), lookup))).toBe('AuthFailure');
    expect(await code(() => verify(signed(), () => undefined))).toBe('AuthFailure');
    const tampered = signed();
    tampered.body = Buffer.from('Action=TerminateInstances&Version=2016-11-15');
    expect(await code(() => verify(tampered, lookup))).toBe('AuthFailure');
    const header = signed();
    header.headers.set('content-type', 'text/plain');
    expect(await code(() => verify(header, lookup))).toBe('AuthFailure');
    expect(await code(() => verify(signed({ date: new Date(Date.now() - 16 * 60_000) }), lookup))).toBe('AuthFailure');
    expect(await code(() => verify(signed({ date: new Date(Date.now() - 14 * 60_000) }), lookup))).toBeUndefined();
  });

  it('refuses a request without credentials and a scope date that differs from X-Amz-Date', async () => {
    expect(await code(() => verify({ method: 'POST', url: '/', headers: new Headers(), body: Buffer.alloc(0) }, lookup))).toBe('AuthFailure');
    const req = signed();
    const auth = req.headers.get('authorization')!.replace(/Credential=AKIDUNIT\/\d{8}/, 'Credential=AKIDUNIT/20000101');
    req.headers.set('authorization', auth);
    expect(await code(() => verify(req, lookup))).toBe('AuthFailure');
  });
});

describe('SigV4: the payload, signed headers and region', () => {
  const hash = (s: string) => createHash('sha256').update(s).digest('hex');

  it('checks the body that arrived against a declared x-amz-content-sha256, unless the caller has no body (declared)', async () => {
    const body = 'Action=DescribeRegions&Version=2016-11-15';
    const req = signed({ body, extra: { 'X-Amz-Content-Sha256': hash(body) } });
    expect(await code(() => verify(req, lookup))).toBeUndefined();
    req.body = Buffer.from('Action=CreateKeyPair&Version=2016-11-15&KeyName=x');
    expect(await code(() => verify(req, lookup))).toBe('AuthFailure');
    // nginx's auth_request has no body: the declared hash is what the signature covers (the runtime checks the body).
    expect(await code(() => verify({ ...req, body: Buffer.alloc(0), payload: 'declared' }, lookup))).toBeUndefined();
    const unsigned = signed({ body: '', extra: { 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' } });
    expect(await code(() => verify({ ...unsigned, body: Buffer.from('Action=CreateKeyPair') }, lookup))).toBe('AuthFailure');
  });

  it('refuses SignedHeaders that are not distinct lowercase header names (__proto__ included)', async () => {
    for (const names of ['host;__proto__', 'host;host', 'Host', 'host;a b']) {
      const req = signed();
      req.headers.set('authorization', req.headers.get('authorization')!.replace(/SignedHeaders=[^,]+/, `SignedHeaders=${names}`));
      if (names.includes('__proto__')) req.headers.set('__proto__', 'x');
      expect(await code(() => verify(req, lookup)), names).toBe('AuthFailure');
    }
  });

  it('refuses a credential scoped to a region the cloud does not serve', async () => {
    expect(await code(() => verify(signed(), lookup, Date.now(), { regions: ['eu-west-1'] }))).toBe('AuthFailure');
    expect(await code(() => verify(signed(), lookup, Date.now(), { regions: ['us-east-1'] }))).toBeUndefined();
  });
});
