import type { RestartPolicy } from './types.js';

/**
 * How long before a unit's next start by its restart policy, given when it was started (this start included), or
 * undefined once it has made `burst` starts within `intervalSec` (its start limit). The delay doubles with each start
 * inside the interval, capped at interval/burst so that a unit failing at once still reaches its limit in about the
 * interval, as under systemd.
 */
export function restartDelayMs(policy: RestartPolicy, starts: readonly number[], now: number): number | undefined {
  const recent = starts.filter((t) => t > now - policy.intervalSec * 1000).length;
  if (recent >= policy.burst) return undefined;
  return Math.min(policy.delaySec * 1000 * 2 ** Math.max(0, recent - 1), (policy.intervalSec * 1000) / policy.burst);
}

/**
 * The policy of pcloud's host services (nginx, tgtd, nfs-ganesha, dnsmasq): a service that dies comes back after
 * 0.5, 1, 2, 4 s (systemd: every 0.5 s) and gives up after 5 starts in 30 s. Instances have none: EC2's semantics
 * decide what happens to them.
 */
export const SERVICE_RESTART: RestartPolicy = { when: 'on-failure', delaySec: 0.5, burst: 5, intervalSec: 30 };
