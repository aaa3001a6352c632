/** Where the instance gauge's numbers come from: the domain's tally of every account's instances, at each scrape. */
import type { Cloud } from '../cloud/index.js';

export function instanceSource(cloud: Cloud): () => Promise<{ state: string; runtime: string; count: number }[]> {
  return () => cloud.instances.tally();
}
