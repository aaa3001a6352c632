/** IPv4 arithmetic for CIDR blocks. */
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

/** EC2's private DNS name for an address. */
export function privateDnsName(ip: string, region: string): string {
  const host = `ip-${ip.replaceAll('.', '-')}`;
  return region === 'us-east-1' ? `${host}.ec2.internal` : `${host}.${region}.compute.internal`;
}
