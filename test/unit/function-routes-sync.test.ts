/**
 * nginx's routes are synced one sync at a time (urls.ts): every change of functions asks for one, and many come at once
 * (a host following another server's changes, an account's creates); those asked while one runs share the one after it,
 * which reads the records when it begins. Before, each ran at once: they wrote the same routes file side by side, and
 * one that read the records earlier could write its routes last.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { NginxDriver } from '../../src/host/nginx.js';
import { closeDomainClouds, domainCloud } from '../support/domain-cloud.js';

afterEach(closeDomainClouds);

describe("nginx's routes", () => {
  it('are synced one at a time; syncs asked while one runs are one more after it', async () => {
    const { cloud } = await domainCloud();
    let running = 0;
    let most = 0;
    let synced = 0;
    const driver = {
      port: 1, baseUrl: 'http://127.0.0.1:1', close: async () => undefined,
      sync: async () => {
        most = Math.max(most, ++running);
        await new Promise((r) => setTimeout(r, 20));
        running--;
        synced++;
      },
    } as unknown as NginxDriver;
    cloud.functions.attachNginx(driver);
    const first = cloud.functions.syncRoutes();
    // Asked while the first runs (it has begun: it reads the records first).
    await new Promise((r) => setTimeout(r, 5));
    await Promise.all([first, ...Array.from({ length: 10 }, () => cloud.functions.syncRoutes())]);
    expect([most, synced]).toEqual([1, 2]);
    // Asked after: one more.
    await cloud.functions.syncRoutes();
    expect(synced).toBe(3);
  });
});
