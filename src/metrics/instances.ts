/**
 * Where the instance gauge's numbers come from: every account's instances as DescribeInstances lists them, read
 * through the domain's own methods at each scrape.
 */
import type { Cloud } from '../cloud/index.js';
import { AccountAdmin } from '../cloud/accounts.js';

export function instanceSource(cloud: Cloud): () => Promise<{ state: string; runtime: string }[]> {
  const admin = new AccountAdmin(cloud.db, cloud.accounts);
  return async () => {
    const out: { state: string; runtime: string }[] = [];
    // Promise.resolve: the domain's reads are being made asynchronous; awaited either way.
    for (const account of await Promise.resolve(admin.list())) {
      const { instances } = await Promise.resolve(cloud.instances.describe(account.id, { ids: [], filters: [] }));
      for (const i of instances) out.push({ state: i.state, runtime: i.runtime });
    }
    return out;
  };
}
