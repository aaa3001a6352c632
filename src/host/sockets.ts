/**
 * Unix socket paths the kernel takes: sun_path holds 107 bytes, and a data dir deep in the file system (or a function
 * name of 64 characters) makes longer ones, which bind() refuses ("File name too long"). Such a path is given a stable
 * short stand-in under /run/pcloud/sock, the same for everyone who asks with the same long path.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const SHORT_SOCKET_DIR = '/run/pcloud/sock';
const MAX = 100;
let dirMade = false;

/**
 * `path` itself when it fits; else `/run/pcloud/sock/<hash of path>.sock` (its directory made). `plain`: the stand-in
 * also when the path holds more than letters, digits and `._/-` (a configuration it is written into splits on others).
 */
export function socketPath(path: string, plain = false): string {
  if (Buffer.byteLength(path) <= MAX && !(plain && /[^A-Za-z0-9._/-]/.test(path))) return path;
  if (!dirMade) {
    mkdirSync(SHORT_SOCKET_DIR, { recursive: true });
    dirMade = true;
  }
  return join(SHORT_SOCKET_DIR, `${createHash('sha256').update(path).digest('hex').slice(0, 32)}.sock`);
}
