/**
 * A joined host's settings (`pcloud host join`), kept in its data dir (`joined.json`, root's only: it holds the state
 * database's URL and the host's key) and read by every later `pcloud serve` of that data dir as defaults of the
 * environment: what the environment sets itself wins.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { JoinAnswer } from '../api/hosts/join.js';

export interface Joined extends JoinAnswer {
  /** The control plane's API, as given to `pcloud host join --control`. */
  control: string;
  underlayAddress?: string;
  underlayDevice?: string;
}

const FILE = 'joined.json';

export async function writeJoined(dataDir: string, joined: Joined): Promise<void> {
  const path = join(dataDir, FILE);
  await writeFile(`${path}.tmp`, JSON.stringify(joined, null, 2) + '\n', { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

export function readJoined(dataDir: string): Joined | undefined {
  const path = join(dataDir, FILE);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as Joined;
}

/** The environment a joined data dir's server runs with: its settings under what the environment already says. */
export function joinedEnv(joined: Joined): Record<string, string> {
  const out: Record<string, string | undefined> = {
    PCLOUD_DATABASE_URL: joined.database, PCLOUD_REGION: joined.region, PCLOUD_AZS: joined.zones.join(','),
    PCLOUD_HOST_ZONE: joined.zone, PCLOUD_CONTROL_URL: joined.control, PCLOUD_HOST_KEY: joined.hostKey,
    PCLOUD_UNDERLAY_ADDRESS: joined.underlayAddress, PCLOUD_UNDERLAY_DEVICE: joined.underlayDevice,
  };
  return Object.fromEntries(Object.entries(out).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
}

/** Put a joined data dir's settings in this process's environment where it says nothing itself. */
export function applyJoined(dataDir: string, env: NodeJS.ProcessEnv = process.env): Joined | undefined {
  const joined = readJoined(dataDir);
  if (!joined) return undefined;
  for (const [k, v] of Object.entries(joinedEnv(joined))) if (!env[k]) env[k] = v;
  return joined;
}
