/**
 * pcloud's own certificate authority and the API's server certificate, for the API address inside every VPC (where
 * instances call `https://ec2.REGION.amazonaws.com` and the VPC's DNS sends them to pcloud). The CA is made once per
 * data dir (its key 0600 under keys/, never leaves the host); guests trust its certificate (cloud-init installs it),
 * and so may an operator's laptop (`pcloud ca`). The server certificate is signed for the region's service names and
 * made anew when it nears its end, when the names change, or when it was not signed by this CA.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import type { HostTls } from './index.js';
import type { ServerCredentials } from './types.js';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import forge from 'node-forge';

const DAY = 86_400_000;
/** The CA's life: long, as an operator installs it once on laptops. */
export const CA_DAYS = 3650;
/** The server certificate's life (what browsers accept at most), and how long before its end it is made anew. */
export const SERVER_DAYS = 397;
export const RENEW_DAYS = 30;

/** The names an instance calls the API by, in the cloud's region (IAM and STS global endpoints too). */
export function apiServiceNames(region: string): string[] {
  return [`ec2.${region}.amazonaws.com`, `lambda.${region}.amazonaws.com`, `sts.${region}.amazonaws.com`, 'sts.amazonaws.com', 'iam.amazonaws.com'];
}

/** A key and certificate (PEM) for a TLS server, its CA's certificate, and when it ends. */
export type { ServerCredentials } from './types.js';

/** A file of pcloud's own under `dir` (the data dir's keys/): read if there, else made once, 0600, by rename. */
function ownFile(dir: string, name: string, make: () => string, mode = 0o600): string {
  const file = join(dir, name);
  if (existsSync(file)) return readFileSync(file, 'utf8');
  return writeOwn(dir, name, make(), mode);
}

function writeOwn(dir: string, name: string, text: string, mode = 0o600): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, name);
  // A file left from an interrupted write keeps its mode when written over: it is made anew, with the mode.
  rmSync(`${file}.tmp`, { force: true });
  writeFileSync(`${file}.tmp`, text, { mode, flag: 'wx' });
  renameSync(`${file}.tmp`, file);
  return text;
}

const rsaKeyPem = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
/** A positive serial of 16 random bytes. */
const serial = () => `01${randomBytes(15).toString('hex')}`;

export class PcloudCa implements HostTls {
  constructor(private readonly dir: string) {}

  /** The CA's certificate (PEM), made with its key on first use. */
  certificate(): string {
    return this.ca().certPem;
  }

  private ca(): { key: forge.pki.rsa.PrivateKey; cert: forge.pki.Certificate; certPem: string } {
    const keyPem = ownFile(this.dir, 'ca.key.pem', rsaKeyPem);
    const key = forge.pki.privateKeyFromPem(keyPem);
    const certPem = ownFile(this.dir, 'ca.crt.pem', () => {
      const cert = forge.pki.createCertificate();
      cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
      cert.serialNumber = serial();
      cert.validity.notBefore = new Date(Date.now() - DAY);
      cert.validity.notAfter = new Date(Date.now() + CA_DAYS * DAY);
      // Each data dir's CA a name of its own: two pclouds' CAs on one laptop never stand for each other.
      const name = [{ name: 'commonName', value: `pcloud CA ${randomBytes(4).toString('hex')}` }, { name: 'organizationName', value: 'pcloud' }];
      cert.setSubject(name);
      cert.setIssuer(name);
      cert.setExtensions([
        { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
        { name: 'subjectKeyIdentifier' },
      ]);
      cert.sign(key, forge.md.sha256.create());
      return forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n');
    }, 0o644);
    return { key, cert: forge.pki.certificateFromPem(certPem), certPem };
  }

  /**
   * The API's server key and certificate for these DNS names and addresses: the one kept if it is this CA's, names
   * exactly these and has more than RENEW_DAYS left at `now`; else a new one (and a new key), kept in its place.
   */
  server(names: readonly string[], addresses: readonly string[], now = new Date()): ServerCredentials {
    for (const ip of addresses) if (!isIP(ip)) throw new Error(`not an IP address: ${JSON.stringify(ip.slice(0, 64))}`);
    const ca = this.ca();
    const want = sanText(names, addresses);
    const have = this.kept();
    if (have) {
      const x = new X509Certificate(have.cert);
      const fresh = new Date(x.validTo).getTime() - now.getTime() > RENEW_DAYS * DAY && new Date(x.validFrom) <= now;
      if (fresh && x.subjectAltName === want && x.verify(new X509Certificate(ca.certPem).publicKey)) {
        return { ...have, ca: ca.certPem, notAfter: new Date(x.validTo) };
      }
    }
    const keyPem = rsaKeyPem();
    const key = forge.pki.privateKeyFromPem(keyPem);
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
    cert.serialNumber = serial();
    cert.validity.notBefore = new Date(now.getTime() - DAY);
    cert.validity.notAfter = new Date(now.getTime() + SERVER_DAYS * DAY);
    cert.setSubject([{ name: 'commonName', value: names[0] ?? addresses[0] ?? 'pcloud' }, { name: 'organizationName', value: 'pcloud' }]);
    cert.setIssuer(ca.cert.subject.attributes);
    cert.setExtensions([
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [...names.map((value) => ({ type: 2, value })), ...addresses.map((ip) => ({ type: 7, ip }))] },
      { name: 'subjectKeyIdentifier' },
      { name: 'authorityKeyIdentifier', keyIdentifier: ca.cert.generateSubjectKeyIdentifier().getBytes() },
    ]);
    cert.sign(ca.key, forge.md.sha256.create());
    const certPem = forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n');
    // The key first: a certificate is never kept beside a key it does not go with.
    writeOwn(this.dir, 'api.key.pem', keyPem);
    writeOwn(this.dir, 'api.crt.pem', certPem, 0o644);
    return { key: keyPem, cert: certPem, ca: ca.certPem, notAfter: cert.validity.notAfter };
  }

  private kept(): { key: string; cert: string } | undefined {
    const key = join(this.dir, 'api.key.pem');
    const cert = join(this.dir, 'api.crt.pem');
    if (!existsSync(key) || !existsSync(cert)) return undefined;
    try {
      const pair = { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
      return new X509Certificate(pair.cert).checkPrivateKey(createPrivateKey(pair.key)) ? pair : undefined;
    } catch {
      return undefined;
    }
  }
}

/** The subjectAltName as node's X509Certificate shows it, to compare a kept certificate's with the one wanted. */
function sanText(names: readonly string[], addresses: readonly string[]): string {
  return [...names.map((n) => `DNS:${n}`), ...addresses.map((ip) => `IP Address:${ip}`)].join(', ');
}
