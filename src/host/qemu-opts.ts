/**
 * Option strings for QEMU and swtpm (`kind,key=value,...`), built from typed pairs so that no value is pasted in raw.
 *
 * QEMU (QemuOpts and keyval: what -drive, -device, -chardev, -netdev, -smbios, -vnc, -mon, -M read): a comma inside a
 * value is written twice; every other character, a newline included, is taken as it is. Refused: NUL (no argument can
 * hold it), an empty value (`file=` is an empty drive), `help` and `?` (QEMU prints help instead, e.g. for format=), and
 * a value in a kind's place (the implied first value) that is not a plain name: `{` there makes -device and -netdev
 * read JSON, `=` a key of its own.
 *
 * swtpm (0.7): the same shape with no escape at all: it splits at every comma (`,,` too: checked with swtpm 0.7.1), and
 * newer versions read `key={...}` as a JSON map. A value with a comma, or starting with `{`, is refused.
 */

export class OptionValueError extends Error {
  override name = 'OptionValueError';
}

export type OptionValue = string | number | boolean;
/** Pairs in order; an undefined value leaves its key out. Keys are pcloud's own names, never data. */
export type OptionPairs = Readonly<Record<string, OptionValue | undefined>>;

const KEY = /^[a-z][a-z0-9_.-]*$/;
const KIND = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

// Messages name the option and the rule, never the value: the values are host paths (a data dir, a disk, a socket),
// and an error travels further than its thrower knows (the server log, a wrapping error, a future caller that
// reports it). Only CloudError and UnsafeImageError messages reach a tenant's StateReason today (instances/launch.ts),
// but an option error must be safe wherever it ends up. Names and kinds are pcloud's own.
const show = (name: string) => JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}...` : name);

function text(key: string, value: OptionValue, booleans: [string, string]): string {
  if (!KEY.test(key)) throw new OptionValueError(`${show(key)} is not an option name`);
  if (typeof value === 'boolean') return value ? booleans[0] : booleans[1];
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new OptionValueError(`${key}=: only whole numbers are passed as options`);
    return String(value);
  }
  if (value.includes('\0')) throw new OptionValueError(`${key}=: a value with a NUL cannot be passed to QEMU or swtpm`);
  if (value === '') throw new OptionValueError(`${key}=: an empty value means something else to QEMU (no file, no name)`);
  if (value === 'help' || value === '?') throw new OptionValueError(`${key}=: the value help or ? makes QEMU print help instead`);
  return value;
}

function kindOf(kind: string | undefined): string[] {
  if (kind === undefined) return [];
  if (!KIND.test(kind) || kind === 'help') throw new OptionValueError(`${show(kind)} is not a name QEMU takes in first place`);
  return [kind];
}

/** QEMU's `kind,key=value,...` (kind: the implied first value, e.g. a device's driver or a chardev's backend). */
export function qemuOpts(kind: string | undefined, pairs: OptionPairs): string {
  const items = Object.entries(pairs).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${text(k, v, ['on', 'off']).replaceAll(',', ',,')}`]));
  return [...kindOf(kind), ...items].join(',');
}

/** swtpm's `key=value,...`: values it cannot carry (a comma, a leading `{`) are refused. */
export function swtpmOpts(pairs: OptionPairs): string {
  return Object.entries(pairs).flatMap(([k, v]) => {
    if (v === undefined) return [];
    const t = text(k, v, ['true', 'false']);
    if (t.includes(',')) throw new OptionValueError(`swtpm's ${k}= cannot take a comma (swtpm has no escape for one): the data and run directories' paths must not contain one`);
    if (t.startsWith('{')) throw new OptionValueError(`swtpm's ${k}= cannot start with { (swtpm reads a JSON map there)`);
    return [`${k}=${t}`];
  }).join(',');
}

/** A file on the host, as QEMU and swtpm open it: an absolute path (relative ones depend on the current directory). */
export function hostPath(path: string): string {
  if (path.includes('\0')) throw new OptionValueError('a path QEMU or swtpm opens cannot contain a NUL');
  if (!path.startsWith('/')) throw new OptionValueError('a path QEMU or swtpm opens must be absolute (a relative one depends on the current directory)');
  // QEMU opens /dev/fdset/N as a descriptor passed over QMP, not as that file.
  if (path.startsWith('/dev/fdset/')) throw new OptionValueError('QEMU reads a path under /dev/fdset/ as descriptors passed to it, not as a file');
  return path;
}

/**
 * What QEMU's `file=` opens: a host path (absolute: QEMU reads `name:` before a first `/` as a protocol, and `json:`
 * as options), or a URL of a protocol pcloud serves disks with (iscsi://, nfs://).
 */
export function qemuFile(file: string): string {
  return /^(iscsi|nfs):\/\/[^\0]+$/.test(file) ? file : hostPath(file);
}
