/**
 * The fast tier (`npm run test:unit`, test/vitest.unit.config.ts) runs the pure parts where there is no root and no host
 * package: a test that needs either (a real parser such as `nginx -t`, `systemd-analyze` or `dnsmasq --test`, nft,
 * bwrap, ssh-keygen, a real supervisor, root's /run) is skipped there, and runs in `npm test`.
 */
export const FAST_TIER = process.env.PCLOUD_TEST_TIER === 'fast';

/**
 * The systemd test node (test/host/node.test.ts) runs some real suites again for what its unit manager changes; there,
 * what is the same under either manager (it ran on the host in the same `npm test`) is skipped.
 */
export const UNIT_MANAGER_SCOPE = 'unit-manager';
export const UNIT_MANAGER_ONLY = process.env.PCLOUD_TEST_SCOPE === UNIT_MANAGER_SCOPE;
