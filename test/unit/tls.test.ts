/** pcloud's CA and the API's server certificate: made once, kept with safe modes, renewed when they must be. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createServer, connect, type TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiServiceNames, PcloudCa, RENEW_DAYS, SERVER_DAYS } from '../../src/host/tls.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'pcloud-tls-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const DAY = 86_400_000;
const names = apiServiceNames('eu-west-3');
const mode = (f: string) => (statSync(join(dir, f)).mode & 0o777).toString(8);

describe('PcloudCa', () => {
  it('makes one CA per dir: a CA certificate, its key 0600', () => {
    const ca = new PcloudCa(dir);
    const pem = ca.certificate();
    const x = new X509Certificate(pem);
    expect(x.ca).toBe(true);
    expect(x.subject).toMatch(/CN=pcloud CA [0-9a-f]{8}/);
    expect(mode('ca.key.pem')).toBe('600');
    expect(new PcloudCa(dir).certificate()).toBe(pem);
    expect(new X509Certificate(pem).verify(x.publicKey)).toBe(true);
    expect(new Date(x.validTo).getTime() - Date.now()).toBeGreaterThan(9 * 365 * DAY);
  });

  it('a key is 0600 even over a file an interrupted write left with a looser mode', () => {
    writeFileSync(join(dir, 'ca.key.pem.tmp'), 'left over', { mode: 0o644 });
    writeFileSync(join(dir, 'api.key.pem.tmp'), 'left over', { mode: 0o666 });
    new PcloudCa(dir).server(names, []);
    expect([mode('ca.key.pem'), mode('api.key.pem')]).toEqual(['600', '600']);
  });

  it('signs a server certificate for the region\'s service names and the address, its key 0600', () => {
    const ca = new PcloudCa(dir);
    const s = ca.server(names, ['169.254.169.252']);
    const x = new X509Certificate(s.cert);
    expect(x.subjectAltName).toBe('DNS:ec2.eu-west-3.amazonaws.com, DNS:lambda.eu-west-3.amazonaws.com, DNS:sts.eu-west-3.amazonaws.com, '
      + 'DNS:sts.amazonaws.com, DNS:iam.amazonaws.com, IP Address:169.254.169.252');
    expect(x.ca).toBe(false);
    expect(x.verify(new X509Certificate(ca.certificate()).publicKey)).toBe(true);
    expect(x.checkIssued(new X509Certificate(ca.certificate()))).toBe(true);
    expect(x.checkHost('ec2.eu-west-3.amazonaws.com')).toBe('ec2.eu-west-3.amazonaws.com');
    expect(x.checkHost('ec2.us-east-1.amazonaws.com')).toBeUndefined();
    expect(x.checkIP('169.254.169.252')).toBe('169.254.169.252');
    expect(mode('api.key.pem')).toBe('600');
    expect(s.ca).toBe(ca.certificate());
    expect(Math.round((s.notAfter.getTime() - Date.now()) / DAY)).toBe(SERVER_DAYS);
    expect(readFileSync(join(dir, 'api.crt.pem'), 'utf8')).toBe(s.cert);
  });

  it('keeps the server certificate while it is fresh; renews it near its end, for other names, or another CA', () => {
    const ca = new PcloudCa(dir);
    const first = ca.server(names, ['169.254.169.252']);
    expect(ca.server(names, ['169.254.169.252']).cert).toBe(first.cert);
    const late = new Date(first.notAfter.getTime() - (RENEW_DAYS - 1) * DAY);
    const renewed = ca.server(names, ['169.254.169.252'], late);
    expect(renewed.cert).not.toBe(first.cert);
    expect(renewed.key).not.toBe(first.key);
    expect(renewed.notAfter.getTime()).toBeGreaterThan(first.notAfter.getTime());
    const other = ca.server(apiServiceNames('us-east-1'), ['169.254.169.252'], late);
    expect(new X509Certificate(other.cert).checkHost('ec2.us-east-1.amazonaws.com')).toBeTruthy();
    // A certificate from another CA left in place (a copied dir) is not served.
    const stranger = new PcloudCa(mkdtempSync(join(tmpdir(), 'pcloud-tls-other-')));
    const foreign = stranger.server(apiServiceNames('us-east-1'), ['169.254.169.252']);
    writeFileSync(join(dir, 'api.key.pem'), foreign.key);
    writeFileSync(join(dir, 'api.crt.pem'), foreign.cert);
    expect(ca.server(apiServiceNames('us-east-1'), ['169.254.169.252'], late).cert).not.toBe(foreign.cert);
  });

  it('refuses an address that is not one', () => {
    expect(() => new PcloudCa(dir).server(names, ['169.254.169.252\nDNS:evil'])).toThrow(/not an IP address/);
  });

  it('a TLS client trusting only the CA connects by a service name', async () => {
    const ca = new PcloudCa(dir);
    const s = ca.server(names, ['127.0.0.1']);
    const server = createServer({ key: s.key, cert: s.cert }, (sock) => sock.end('hi'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const got = await new Promise<string>((resolve, reject) => {
        const c: TLSSocket = connect({ host: '127.0.0.1', port, servername: 'sts.amazonaws.com', ca: ca.certificate() }, () => undefined);
        let data = '';
        c.on('data', (d) => { data += String(d); });
        c.on('end', () => resolve(data));
        c.on('error', reject);
      });
      expect(got).toBe('hi');
      await expect(new Promise((resolve, reject) => {
        const c = connect({ host: '127.0.0.1', port, servername: 's3.amazonaws.com', ca: ca.certificate() }, () => resolve('connected'));
        c.on('error', reject);
      })).rejects.toThrow(/altnames/i);
    } finally {
      server.close();
    }
  });
});

describe('PEM text', () => {
  it('is LF-only, as openssl and update-ca-certificates write it', () => {
    const d = mkdtempSync(join(tmpdir(), 'pcloud-tls-pem-'));
    try {
      const ca = new PcloudCa(d);
      expect(ca.certificate()).not.toContain('\r');
      expect(ca.server(names, []).cert).not.toContain('\r');
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
