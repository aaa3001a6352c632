/** IPv4 arithmetic for CIDR blocks, the addresses a VPC's router takes, and EC2's one rule for private DNS names. */
export function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => (acc << 8) + Number(o), 0) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseCidr(cidr: string): { base: number; bits: number; size: number } {
  const [ip, bits] = cidr.split('/');
  const b = Number(bits);
  const size = 2 ** (32 - b);
  return { base: (ipToInt(ip!) & ~(size - 1)) >>> 0, bits: b, size };
}

/** The n-th block of `bits` size inside a CIDR (the default VPC's /20 subnets). */
export function subBlock(cidr: string, bits: number, n: number): string {
  const { base } = parseCidr(cidr);
  return `${intToIp(base + n * 2 ** (32 - bits))}/${bits}`;
}

/** A CIDR's netmask, dotted (10.0.1.0/24 → 255.255.255.0). */
export function netmaskOf(cidr: string): string {
  const { bits } = parseCidr(cidr);
  return intToIp(bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0);
}

/** The VPC router's address in a subnet: the first after the network address, as on AWS. */
export function gatewayOf(cidr: string): string {
  return intToIp(parseCidr(cidr).base + 1);
}

/** The VPC's DNS server: its base address + 2, as Amazon's resolver. */
export function dnsOf(vpcCidr: string): string {
  return intToIp(parseCidr(vpcCidr).base + 2);
}

/** The domain of private DNS names in a region: ec2.internal in us-east-1, REGION.compute.internal elsewhere. */
export function privateDnsDomain(region: string): string {
  return region === 'us-east-1' ? 'ec2.internal' : `${region}.compute.internal`;
}

/** What a private DNS name's host label starts with; the address follows, its dots as hyphens. */
export const PRIVATE_HOST_PREFIX = 'ip-';

/** The host label of an address's private DNS name (10.0.1.5 → ip-10-0-1-5): the instance's hostname. */
export function privateHostLabel(ip: string): string {
  return `${PRIVATE_HOST_PREFIX}${ip.replaceAll('.', '-')}`;
}

/** EC2's private DNS name for an address: its host label in the region's domain. */
export function privateDnsName(ip: string, region: string): string {
  return `${privateHostLabel(ip)}.${privateDnsDomain(region)}`;
}
