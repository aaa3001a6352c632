/** Where the pool gauges' numbers come from: the file system of the data dir's storage pool (DATA/pool), at each scrape. */
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';

export function poolSource(dataDir: string): () => Promise<{ sizeBytes: number; freeBytes: number }> {
  const root = join(dataDir, 'pool');
  return async () => {
    const fs = await statfs(root);
    return { sizeBytes: fs.blocks * fs.bsize, freeBytes: fs.bavail * fs.bsize };
  };
}
