/**
 * Signatures (issue 12): a signature covers the body that arrived (a declared x-amz-content-sha256 never stands in
 * for it), presigned URLs hold until X-Amz-Expires and take no parameters from a body, the scope's region is ours.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import aws4 from 'aws4';
import { createHash } from 'node:crypto';
import { startApi, type TestApi } from '../support/api.js';

let api: TestApi;
let host: string;
beforeAll(async () => { api = await startApi(); host = new URL(api.endpoint).host; });
afterAll(async () => { await api?.close(); });

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const amzDate = (d: Date) => d.toISOString().replace(/[:-]|\.\d{3}/g, '');
const V = 'Version=2016-11-15';

/** Signs `signedBody` (with the headers given), then sends `sentBody` under that signature. */
async function replay(signedBody: string, sentBody: string, headers: Record<string, string>, opts: { region?: string; service?: string } = {}) {
  // Content-Length is left unsigned (as a proxy may change it), so that another body can go under the signature.
  const req = aws4.sign({
    host, method: 'POST', path: '/', body: signedBody, service: opts.service ?? 'ec2', region: opts.region ?? 'us-east-1', doNotModifyHeaders: true,
    headers: { Host: host, 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8', 'X-Amz-Date': amzDate(new Date()), ...headers },
  }, api.key);
  delete (req.headers as Record<string, string>).Host;
  const res = await fetch(api.endpoint + '/', { method: 'POST', headers: req.headers as Record<string, string>, body: sentBody });
  return { status: res.status, text: await res.text() };
}

const keyNames = async () => (await api.cloud.keyPairs.list('111111111111')).map((k) => k.name);

describe('the body a signature covers', () => {
  it('a request signed with its body hash in x-amz-content-sha256 is answered', async () => {
    const body = `Action=DescribeRegions&${V}`;
    expect((await replay(body, body, { 'X-Amz-Content-Sha256': sha(body) })).status).toBe(200);
  });

  it('a captured DescribeRegions carrying a CreateKeyPair body is refused and creates nothing', async () => {
    const signed = `Action=DescribeRegions&${V}`;
    const res = await replay(signed, `Action=CreateKeyPair&${V}&KeyName=replayed`, { 'X-Amz-Content-Sha256': sha(signed) });
    expect(res.status, res.text).toBe(401);
    expect(res.text).toContain("x-amz-content-sha256");
    expect(await keyNames()).not.toContain('replayed');
  });

  it('UNSIGNED-PAYLOAD does not let any body through', async () => {
    const res = await replay('', `Action=CreateKeyPair&${V}&KeyName=unsigned`, { 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' });
    expect(res.status).toBe(401);
    expect(await keyNames()).not.toContain('unsigned');
  });
});

describe('presigned URLs', () => {
  function presign(query: string, date: Date, method = 'GET'): string {
    const req = aws4.sign({
      host, method, path: `/?${query}&X-Amz-Date=${amzDate(date)}`, service: 'ec2', region: 'us-east-1', signQuery: true,
    }, api.key);
    return api.endpoint + req.path!;
  }

  it('hold until X-Amz-Expires, not 15 minutes whatever they say', async () => {
    const now = Date.now();
    expect((await fetch(presign(`Action=DescribeRegions&${V}&X-Amz-Expires=300`, new Date(now - 60_000)))).status).toBe(200);
    expect((await fetch(presign(`Action=DescribeRegions&${V}&X-Amz-Expires=60`, new Date(now - 120_000)))).status).toBe(401);
    expect((await fetch(presign(`Action=DescribeRegions&${V}&X-Amz-Expires=3600`, new Date(now - 30 * 60_000)))).status).toBe(200);
    expect((await fetch(presign(`Action=DescribeRegions&${V}&X-Amz-Expires=604801`, new Date(now)))).status).toBe(401);
    expect((await fetch(presign(`Action=DescribeRegions&${V}&X-Amz-Expires=abc`, new Date(now)))).status).toBe(401);
  });

  it('take their parameters from the signed query only: a body neither overrides nor adds', async () => {
    const url = presign(`Action=DescribeRegions&${V}&X-Amz-Expires=300`, new Date(), 'POST');
    expect((await fetch(url, { method: 'POST' })).status).toBe(200);
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `Action=CreateKeyPair&${V}&KeyName=presigned` });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(await keyNames()).not.toContain('presigned');
  });
});

describe('the credential scope', () => {
  it("refuses regions this cloud does not serve (eu-west-1, xx-nowhere-9), for EC2, Lambda and STS", async () => {
    const body = `Action=DescribeRegions&${V}`;
    for (const region of ['eu-west-1', 'xx-nowhere-9']) {
      const res = await replay(body, body, {}, { region });
      expect(res.status, region).toBe(401);
      expect(res.text).toContain('AuthFailure');
      expect((await replay('Action=GetCallerIdentity&Version=2011-06-15', 'Action=GetCallerIdentity&Version=2011-06-15', {}, { region, service: 'sts' })).status).toBe(401);
    }
    const lambda = aws4.sign({ host, method: 'GET', path: '/2015-03-31/functions', service: 'lambda', region: 'eu-west-1' }, api.key);
    expect((await fetch(api.endpoint + '/2015-03-31/functions', { headers: lambda.headers as Record<string, string> })).status).toBe(403);
    expect((await replay(body, body, {})).status).toBe(200);
  });
});

describe('STS', () => {
  it('a parameter XML cannot carry is refused without breaking the error document', async () => {
    const body = 'Action=Get%00Caller%01Identity&Version=2011-06-15';
    const res = await replay(body, body, {}, { service: 'sts' });
    expect(res.status).toBe(400);
    expect(res.text).toContain('<Code>ValidationError</Code>');
    expect(res.text).not.toContain('\u0000');
  });
});
