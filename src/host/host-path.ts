/**
 * A host path as pcloud writes it into another format (a unit file's path setting, dnsmasq's configuration) without
 * quoting: absolute, and only letters, digits and /._@+-. pcloud makes these paths, never tenants; anything else is
 * refused by the caller, in its own error.
 */
const PLAIN_PATH = /^\/[A-Za-z0-9._/@+-]*$/;

export function isPlainPath(path: string): boolean {
  return PLAIN_PATH.test(path);
}
