/**
 * The DNS/DHCP driver's bookkeeping over a fake unit manager (when dnsmasq is started, reloaded or restarted), and its
 * files checked by dnsmasq itself with hostile values.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DnsDriver, DnsValueError, dnsUnitName, dnsmasqConf, recordFiles } from '../../src/host/dns.js';
import { apiServiceNames } from '../../src/host/tls.js';
import { HOSTILE, NUL } from '../support/hostile.js';
import { FakeUnits } from '../support/fake-host.js';
import { FAST_TIER } from '../support/tier.js';

const VPC = 'vpc-0123456789abcdef0';
const conf = { listen: '10.0.0.2', domain: 'ec2.internal', subnets: [{ id: 'subnet-1', network: '10.0.1.0', netmask: '255.255.255.0', gateway: '10.0.1.1' }] };
let dir: string;
let units: FakeUnits;
let dns: DnsDriver;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pcloud-dns-'));
  units = new FakeUnits();
  dns = new DnsDriver(units, dir);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('dnsmasq per VPC', () => {
  it('renders static DHCP per subnet: router per subnet, the VPC resolver, known MACs only', () => {
    const text = dnsmasqConf('/d', { ...conf, subnets: [...conf.subnets, { id: 'subnet-2', network: '10.0.2.0', netmask: '255.255.254.0', gateway: '10.0.2.1' }] }, ['192.0.2.53']);
    expect(text).toContain('dhcp-range=set:subnet-1,10.0.1.0,static,255.255.255.0,1h');
    expect(text).toContain('dhcp-option=tag:subnet-2,option:router,10.0.2.1');
    expect(text).toContain('dhcp-option=option:dns-server,10.0.0.2');
    expect(text).toContain('server=192.0.2.53');
    expect(text).not.toContain('no-resolv');
    expect(text).toContain('dhcp-hostsfile=/d/dhcp-hosts');
  });

  it('starts once, restarts only for a changed configuration', async () => {
    await dns.ensure(VPC, conf);
    await dns.ensure(VPC, conf);
    expect(units.started).toHaveLength(1);
    await dns.ensure(VPC, { ...conf, subnets: [...conf.subnets, { id: 'subnet-2', network: '10.0.2.0', netmask: '255.255.255.0', gateway: '10.0.2.1' }] });
    expect(units.started).toHaveLength(2);
    // A new process finds the unit running with the same file: it leaves it alone.
    const again = new DnsDriver(units, dir);
    await again.ensure(VPC, { ...conf, subnets: [...conf.subnets, { id: 'subnet-2', network: '10.0.2.0', netmask: '255.255.255.0', gateway: '10.0.2.1' }] });
    expect(units.started).toHaveLength(2);
  });

  it('rereads DHCP hosts with a SIGHUP; restarts, dropping the lease, when a left-over lease holds an address given to a new MAC', async () => {
    await dns.ensure(VPC, conf);
    await dns.publish(VPC, [{ ip: '10.0.1.4', mac: '0e:00:00:00:00:01', names: ['ip-10-0-1-4'] }]);
    expect(units.signals).toEqual([{ name: dnsUnitName(VPC), signal: 'SIGHUP' }]);
    expect(readFileSync(join(dir, VPC, 'dhcp-hosts'), 'utf8')).toBe('0e:00:00:00:00:01,10.0.1.4,ip-10-0-1-4\n');
    // The same records again: nothing to do.
    await dns.publish(VPC, [{ ip: '10.0.1.4', mac: '0e:00:00:00:00:01', names: ['ip-10-0-1-4'] }]);
    expect(units.signals).toHaveLength(1);
    // That instance ended without a release (its lease is still on file); its address goes to a new MAC.
    writeFileSync(join(dir, VPC, 'leases'), '1795743647 0e:00:00:00:00:01 10.0.1.4 ip-10-0-1-4 *\n1795743647 0e:00:00:00:00:09 10.0.1.9 x *\n');
    await dns.publish(VPC, [{ ip: '10.0.1.4', mac: '0e:00:00:00:00:02', names: ['ip-10-0-1-4'] }]);
    expect(units.started).toHaveLength(2);
    expect(readFileSync(join(dir, VPC, 'leases'), 'utf8')).toBe('');
  });
});

describe('dnsmasq files take only what they can carry', () => {
  const dnsmasqTest = (text: string) => {
    const file = join(dir, 'check.conf');
    writeFileSync(file, text);
    return spawnSync('dnsmasq', ['--test', `--conf-file=${file}`], { encoding: 'utf8' });
  };

  it.skipIf(FAST_TIER)('a rendered configuration passes dnsmasq --test (and a broken one does not: the check can fail)', () => {
    const text = dnsmasqConf(join(dir, 'vpc'), conf, ['192.0.2.53', '2001:db8::53#5353']);
    expect(dnsmasqTest(text).status).toBe(0);
    expect(dnsmasqTest(`${text}no-such-option=1\n`).status).not.toBe(0);
  });

  it('refuses a hostile value in every field of the configuration', () => {
    const hostile = [...Object.values(HOSTILE), NUL, '10.0.0.2,10.0.0.3', '10.0.0.2\nserver=6.6.6.6'];
    for (const v of hostile) {
      expect(() => dnsmasqConf('/d', { ...conf, listen: v }, [])).toThrow(DnsValueError);
      expect(() => dnsmasqConf('/d', { ...conf, domain: v }, [])).toThrow(DnsValueError);
      if (v) expect(() => dnsmasqConf(`/d/${v}`, conf, [])).toThrow(DnsValueError);
      expect(() => dnsmasqConf('/d', conf, [v])).toThrow(DnsValueError);
      for (const k of ['id', 'network', 'netmask', 'gateway'] as const) {
        expect(() => dnsmasqConf('/d', { ...conf, subnets: [{ ...conf.subnets[0]!, [k]: v }] }, [])).toThrow(DnsValueError);
      }
    }
    expect(() => dnsmasqConf('/d', { ...conf, domain: `${'a'.repeat(64)}.internal` }, [])).toThrow(DnsValueError);
    expect(() => dnsmasqConf('/d', conf, ['192.0.2.53#99999'])).toThrow(DnsValueError);
  });

  it('answers the API\'s service names with its address; refuses a hostile name or address, with nothing rendered', () => {
    const services = { address: '169.254.169.252', names: apiServiceNames('eu-west-3') };
    const text = dnsmasqConf('/d', conf, [], services);
    expect(text).toContain('host-record=ec2.eu-west-3.amazonaws.com,169.254.169.252\n');
    expect(text).toContain('host-record=iam.amazonaws.com,169.254.169.252\n');
    expect(text.match(/^host-record=/gm)).toHaveLength(5);
    expect(dnsmasqConf('/d', conf, [], { address: '169.254.169.252', names: [] })).not.toContain('host-record');
    const hostile = [...Object.values(HOSTILE), NUL, 'a,b', 'ec2.x.amazonaws.com,6.6.6.6', 'x.com\nserver=6.6.6.6', '%', '$x', '{a}', '"q"'];
    for (const v of hostile) {
      expect(() => dnsmasqConf('/d', conf, [], { ...services, names: ['sts.amazonaws.com', v] })).toThrow(DnsValueError);
      expect(() => dnsmasqConf('/d', conf, [], { ...services, address: v })).toThrow(DnsValueError);
    }
    expect(() => dnsmasqConf('/d', conf, [], { ...services, address: 'fd00::1' })).toThrow(DnsValueError);
  });

  it.skipIf(FAST_TIER)('the service records pass dnsmasq --test', () => {
    const text = dnsmasqConf(join(dir, 'vpc'), conf, ['192.0.2.53'], { address: '169.254.169.252', names: apiServiceNames('us-east-1') });
    expect(dnsmasqTest(text).status).toBe(0);
  });

  it('a VPC\'s dnsmasq restarts once to take the service names the server gives', async () => {
    await dns.ensure(VPC, conf);
    dns.serve({ address: '169.254.169.252', names: apiServiceNames('us-east-1') });
    await dns.ensure(VPC, conf);
    expect(units.started).toHaveLength(2);
    expect(readFileSync(join(dir, VPC, 'dnsmasq.conf'), 'utf8')).toContain('host-record=sts.us-east-1.amazonaws.com,169.254.169.252\n');
    await dns.ensure(VPC, conf);
    expect(units.started).toHaveLength(2);
  });

  it.skipIf(FAST_TIER)('hosts and DHCP hosts: a hostile name is left out (the rest of its record stays), a bad address or MAC refused', () => {
    const names = ['ip-10-0-1-4', ...Object.values(HOSTILE), NUL, 'a,b', 'x'.repeat(64), 'web-1'];
    const files = recordFiles([{ ip: '10.0.1.4', mac: '0e:00:00:00:00:01', names }, { ip: '10.0.1.5', names: [HOSTILE.newline!] }]);
    expect(files.hosts).toBe('10.0.1.4 ip-10-0-1-4 web-1\n');
    expect(files.dhcpHosts).toBe('0e:00:00:00:00:01,10.0.1.4,ip-10-0-1-4\n');
    // dnsmasq reads each DHCP hosts line as a dhcp-host= option.
    expect(dnsmasqTest(files.dhcpHosts.trim().split('\n').map((l) => `dhcp-host=${l}\n`).join('')).status).toBe(0);
    for (const v of [...Object.values(HOSTILE), NUL, '10.0.1.4,10.0.1.5']) {
      expect(() => recordFiles([{ ip: v, names: ['a'] }])).toThrow(DnsValueError);
      expect(() => recordFiles([{ ip: '10.0.1.4', mac: v, names: ['a'] }])).toThrow(DnsValueError);
    }
  });

  it('a VPC whose configuration cannot be written starts nothing', async () => {
    await expect(dns.ensure(VPC, { ...conf, domain: 'a\nserver=6.6.6.6' })).rejects.toThrow(DnsValueError);
    expect(units.started).toHaveLength(0);
  });
});
