/**
 * The instance metadata service's domain: who is asking (an instance, by its VPC and private address), IMDSv2 tokens
 * bound to that instance, and the tree of what it may read about itself, as EC2 lays it out. The wire side
 * (src/imds) turns requests into these calls and the tree into listings.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { and, eq, inArray } from 'drizzle-orm';
import forge from 'node-forge';
import type { Db } from '../db/index.js';
import { instances, subnets, vpcs } from '../db/tables.js';
import type { CloudConfig } from './config.js';
import type { InstanceCredentials } from './instance-credentials.js';
import type { SigningKeys } from './signing-keys.js';
import { SignedTokens } from './tokens.js';
import { decodeUserData, type Instance } from './instances/index.js';
import { privateDnsName } from './ip.js';
import { log } from '../log.js';
import type { KeyPairs } from './keypairs.js';
import type { Network } from './network.js';
import type { Tags } from './tags.js';

/**
 * A directory (keys in listing order; a key ending in `/` is a subdirectory) or a leaf; a leaf made only when it is
 * read (role credentials are minted then), undefined if it cannot be had after all.
 */
export type MetadataNode = string | Buffer | (() => Promise<string | undefined>) | { [name: string]: MetadataNode };

/** A time as the metadata service's JSON writes it: whole seconds, UTC. */
function imdsTime(t: Date | number): string {
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A JSON object as EC2's metadata service prints it (`"Key" : "value"`, two-space indent, one member a line). */
export function imdsJson(members: Record<string, string>): string {
  return `{\n${Object.entries(members).map(([k, v]) => `  ${JSON.stringify(k)} : ${JSON.stringify(v)}`).join(',\n')}\n}`;
}

/** The versions EC2 answers besides `latest` (content is the same for all here). */
export const METADATA_VERSIONS = [
  '1.0', '2007-01-19', '2007-03-01', '2007-08-29', '2007-10-10', '2007-12-15', '2008-02-01', '2008-09-01', '2009-04-04',
  '2011-01-01', '2011-05-01', '2012-01-12', '2014-02-25', '2014-11-05', '2015-10-20', '2016-04-19', '2016-06-30',
  '2016-09-02', '2018-03-28', '2018-08-17', '2018-09-24', '2019-10-01', '2020-10-27', '2021-01-03', '2021-03-23',
  '2021-07-15', '2022-09-24', '2023-11-23', '2024-04-11',
];

export const TOKEN_TTL_MAX = 21600;

/** The key pcloud signs instance identity documents with, and its self-signed certificate (PEM). */
interface IdentityKey {
  key: forge.pki.rsa.PrivateKey;
  cert: forge.pki.Certificate;
  certPem: string;
}

export class Metadata {
  private identityKey?: IdentityKey;
  private readonly tokens: SignedTokens;

  constructor(
    private readonly db: Db,
    private readonly config: CloudConfig,
    private readonly network: Network,
    private readonly keyPairs: KeyPairs,
    private readonly tags: Tags,
    private readonly keys: SigningKeys,
    /** Role credentials of instances with an instance profile (none without). */
    private readonly credentials?: InstanceCredentials,
  ) {
    this.tokens = new SignedTokens(keys, 'imds-token');
  }

  /** The instance at this private address in this VPC, if one holds it now. */
  async caller(vpcId: string, ip: string): Promise<Instance | undefined> {
    return (await this.db.select().from(instances).where(and(eq(instances.vpcId, vpcId), eq(instances.privateIp, ip),
      inArray(instances.state, ['pending', 'running', 'stopping', 'shutting-down']))).limit(1))[0];
  }

  // ------------------------------------------------------------ IMDSv2 tokens

  /** A token for this instance, valid for ttl seconds: its id and expiry, signed with a key pcloud keeps. */
  async issueToken(inst: Instance, ttlSec: number, now = Date.now()): Promise<string> {
    return await this.tokens.issue(inst.id, ttlSec, now);
  }

  /** Whether the token was issued to this instance and has not expired. */
  async checkToken(inst: Instance, token: string, now = Date.now()): Promise<boolean> {
    return await this.tokens.check(inst.id, token, now);
  }

  // ------------------------------------------------------------ content

  userData(inst: Instance): Buffer | undefined {
    return inst.userData ? decodeUserData(inst.userData) : undefined;
  }

  /** `meta-data/` for this instance. */
  async metaData(inst: Instance): Promise<{ [name: string]: MetadataNode }> {
    const region = this.config.region;
    const hostname = privateDnsName(inst.privateIp, region);
    const names = await this.network.groupNames.of(inst.accountId, inst.securityGroupIds);
    const groups = inst.securityGroupIds.flatMap((id) => { const name = names.get(id); return name === undefined ? [] : [{ id, name }]; });
    const subnet = (await this.db.select().from(subnets).where(eq(subnets.id, inst.subnetId)).limit(1))[0];
    const vpc = (await this.db.select().from(vpcs).where(eq(vpcs.id, inst.vpcId)).limit(1))[0];
    const key = inst.keyName ? (await this.keyPairs.list(inst.accountId)).find((k) => k.name === inst.keyName) : undefined;
    const azIndex = this.config.availabilityZones.indexOf(inst.availabilityZone) + 1;
    // An associated Elastic IP is the instance's public address (as DescribeInstances shows it), else its own.
    const ip = (await this.network.addresses.ofInstance(inst.id)) ?? inst.publicIp;
    const pub = ip && inst.state === 'running' ? ip : undefined;
    const iface: { [name: string]: MetadataNode } = {
      'device-number': '0',
      'interface-id': inst.networkInterfaceId,
      ...(pub ? { 'ipv4-associations/': { [pub]: inst.privateIp } } : {}),
      'local-hostname': hostname,
      'local-ipv4s': inst.privateIp,
      mac: inst.macAddress,
      'owner-id': inst.accountId,
      ...(pub ? { 'public-ipv4s': pub } : {}),
      'security-group-ids': groups.map((g) => g.id).join('\n'),
      'security-groups': groups.map((g) => g.name).join('\n'),
      'subnet-id': inst.subnetId,
      'subnet-ipv4-cidr-block': subnet?.cidr ?? '',
      'vpc-id': inst.vpcId,
      'vpc-ipv4-cidr-block': vpc?.cidr ?? '',
      'vpc-ipv4-cidr-blocks': vpc?.cidr ?? '',
    };
    const tree: { [name: string]: MetadataNode } = {
      'ami-id': inst.imageId,
      'ami-launch-index': String(inst.launchIndex),
      'ami-manifest-path': '(unknown)',
      'block-device-mapping/': { ami: '/dev/xvda', root: '/dev/xvda' },
      'events/': { 'maintenance/': { history: '[]', scheduled: '[]' } },
      hostname,
      ...(await this.iam(inst)),
      'instance-action': 'none',
      'instance-id': inst.id,
      'instance-life-cycle': 'on-demand',
      'instance-type': inst.instanceType,
      'local-hostname': hostname,
      'local-ipv4': inst.privateIp,
      mac: inst.macAddress,
      'network/': { 'interfaces/': { 'macs/': { [`${inst.macAddress}/`]: iface } } },
      'placement/': {
        'availability-zone': inst.availabilityZone,
        'availability-zone-id': `use1-az${azIndex}`,
        region,
      },
      profile: 'default-hvm',
      ...(pub ? { 'public-ipv4': pub } : {}),
      // `public-keys/` lists `0=name`; its entry is the directory `0/` holding `openssh-key`.
      ...(key ? { 'public-keys/': { [`0=${key.name}`]: { 'openssh-key': `${key.publicKey.trim()}\n` } } } : {}),
      'reservation-id': inst.reservationId,
      'security-groups': groups.map((g) => g.name).join('\n'),
      'services/': { domain: 'amazonaws.com', partition: 'aws' },
    };
    if (inst.attributes.metadataOptions.instanceMetadataTags === 'enabled') {
      const tags = (await this.tags.of([inst.id])).get(inst.id) ?? [];
      tree['tags/'] = { 'instance/': Object.fromEntries(tags.filter((t) => !t.key.includes('/')).map((t) => [t.key, t.value])) };
    }
    return tree;
  }

  /**
   * `iam/` of an instance with an instance profile: `info` (the profile), and `security-credentials/ROLE` (the role's
   * credentials, minted when read) while the profile has a role. Nothing for an instance without one, as on EC2.
   */
  private async iam(inst: Instance): Promise<{ [name: string]: MetadataNode }> {
    const creds = this.credentials;
    const current = await creds?.roleFor(inst.id);
    if (!creds || !current) return {};
    const { association, roleName } = current;
    const info = imdsJson({
      Code: 'Success', LastUpdated: imdsTime(association.createdAt), InstanceProfileArn: association.profile.arn, InstanceProfileId: association.profile.id,
    });
    const roles = Object.create(null) as { [name: string]: MetadataNode };
    if (roleName !== undefined) {
      roles[roleName] = async () => {
        let held;
        try {
          held = await creds.for(inst.id);
        } catch (err) {
          log.warn(`role credentials of ${inst.id}: ${(err as Error).message}`);
          return undefined;
        }
        if (!held || held.roleName !== roleName) return undefined;
        const c = held.credentials;
        return imdsJson({
          Code: 'Success', LastUpdated: imdsTime(held.lastUpdated), Type: 'AWS-HMAC', AccessKeyId: c.accessKeyId,
          SecretAccessKey: c.secretAccessKey, Token: c.sessionToken, Expiration: imdsTime(c.expiration),
        });
      };
    }
    return { 'iam/': { info, 'security-credentials/': roles } };
  }

  /** `dynamic/`: the instance identity document and its signatures. */
  async dynamic(inst: Instance): Promise<{ [name: string]: MetadataNode }> {
    const document = JSON.stringify({
      accountId: inst.accountId,
      architecture: 'x86_64',
      availabilityZone: inst.availabilityZone,
      billingProducts: null,
      devpayProductCodes: null,
      marketplaceProductCodes: null,
      imageId: inst.imageId,
      instanceId: inst.id,
      instanceType: inst.instanceType,
      kernelId: null,
      pendingTime: new Date(inst.launchTime).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      privateIp: inst.privateIp,
      ramdiskId: null,
      region: this.config.region,
      version: '2017-09-30',
    }, null, 2);
    const id = await this.identity();
    const md = forge.md.sha256.create();
    md.update(document, 'utf8');
    const signature = forge.util.encode64(id.key.sign(md));
    const pkcs7 = await this.pkcs7(document);
    return { 'instance-identity/': { document, pkcs7, rsa2048: pkcs7, signature } };
  }

  /** The certificate (PEM) that verifies identity documents' signatures. */
  async identityCertificate(): Promise<string> {
    return (await this.identity()).certPem;
  }

  /** A detached PKCS#7 (CMS SignedData, SHA-256) of the document, base64 without PEM armour, as EC2 gives it. */
  private async pkcs7(document: string): Promise<string> {
    const id = await this.identity();
    const p7 = forge.pkcs7.createSignedData();
    p7.content = forge.util.createBuffer(document, 'utf8');
    p7.addCertificate(id.cert);
    p7.addSigner({
      key: id.key, certificate: id.cert, digestAlgorithm: forge.pki.oids.sha256!,
      authenticatedAttributes: [
        { type: forge.pki.oids.contentType!, value: forge.pki.oids.data },
        { type: forge.pki.oids.messageDigest! },
        { type: forge.pki.oids.signingTime!, value: new Date() as unknown as string },
      ],
    });
    p7.sign({ detached: true });
    return forge.util.encode64(forge.asn1.toDer(p7.toAsn1()).getBytes()).replace(/(.{64})/g, '$1\n').trim();
  }

  private async identity(): Promise<IdentityKey> {
    if (this.identityKey) return this.identityKey;
    // One key and certificate for every server on this database (an instance checks documents against one certificate).
    const stored = JSON.parse((await this.keys.get('imds-identity', () => Buffer.from(JSON.stringify(newIdentity())))).toString()) as { key: string; cert: string };
    this.identityKey = { key: forge.pki.privateKeyFromPem(stored.key), cert: forge.pki.certificateFromPem(stored.cert), certPem: stored.cert };
    return this.identityKey;
  }
}

/** A new identity key (RSA 2048) and its self-signed certificate, PEM. */
function newIdentity(): { key: string; cert: string } {
  const keyPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
  const key = forge.pki.privateKeyFromPem(keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = `01${randomBytes(8).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = new Date(Date.now() + 20 * 365 * 86_400_000);
  const name = [{ name: 'commonName', value: 'pcloud instance identity' }, { name: 'organizationName', value: 'pcloud' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.sign(key, forge.md.sha256.create());
  return { key: keyPem, cert: forge.pki.certificateToPem(cert) };
}
