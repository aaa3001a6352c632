/**
 * The API over TLS in the VPCs: connections handed over (as the routers' listeners do) are served by the app with the
 * CA's certificate for the service names, and a renewed certificate is served from the next daily look on.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { Hono } from 'hono';
import { vpcApiServer, type VpcApiServer } from '../../src/cli/vpc-api.js';
import { apiServiceNames, PcloudCa, type ServerCredentials } from '../../src/host/tls.js';

let dir: string;
let front: Server;
let api: VpcApiServer | undefined;
let port: number;
const names = apiServiceNames('us-east-1');

const app = new Hono();
app.get('/who', (c) => c.text(`${(c.env as { incoming: { socket: { remoteAddress?: string } } }).incoming.socket.remoteAddress}`));

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pcloud-vpc-api-'));
  front = createServer((sock) => api?.connection(sock));
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  port = (front.address() as { port: number }).port;
});
afterEach(() => {
  api?.close();
  front.close();
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

/** GET /who by a service name, trusting only `ca`: the body and the certificate the server showed. */
function get(ca: string, servername = 'ec2.us-east-1.amazonaws.com'): Promise<{ body: string; cert: X509Certificate }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/who', servername, ca, agent: false, headers: { host: servername } }, (res) => {
      let body = '';
      const cert = new X509Certificate((res.socket as import('node:tls').TLSSocket).getPeerX509Certificate()!.raw);
      res.on('data', (d) => { body += String(d); });
      res.on('end', () => resolve({ body, cert }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('vpcApiServer', () => {
  it('serves the app over TLS with the CA\'s certificate, to a client that trusts only the CA; the caller\'s address is the socket\'s', async () => {
    const ca = new PcloudCa(dir);
    api = vpcApiServer(app.fetch, () => ca.server(names, ['127.0.0.1']));
    const { body } = await get(ca.certificate());
    expect(body).toBe('127.0.0.1');
    await expect(get(new PcloudCa(join(dir, 'other')).certificate())).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
  });

  it('serves a renewed certificate from the next look on', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const ca = new PcloudCa(dir);
    // The certificate changes between looks (as it does when renewed near its end): here, for one name more.
    let want = names.slice(0, 1);
    let looks = 0;
    const creds = (): ServerCredentials => { looks++; return ca.server(want, ['127.0.0.1']); };
    api = vpcApiServer(app.fetch, creds, 1000);
    const first = (await get(ca.certificate())).cert;
    await expect(get(ca.certificate(), 'sts.amazonaws.com')).rejects.toThrow(/altnames/i);
    want = names;
    vi.advanceTimersByTime(1000);
    expect(looks).toBe(2);
    const second = (await get(ca.certificate(), 'sts.amazonaws.com')).cert;
    expect(second.serialNumber).not.toBe(first.serialNumber);
  });
});
