/**
 * The users sandboxed processes (Lambda handlers) run as: systemd's DynamicUser= range, which the direct manager
 * takes its users from too (src/host/sandbox-users.ts). Here, without dependencies, because the runtime shims read it
 * inside their sandbox (which shows dist/src/runtime only).
 */
export const SANDBOX_UID_FIRST = 61184;
export const SANDBOX_UID_LAST = 65519;

/**
 * The port a sandboxed process's own listener (a custom runtime's API, src/runtime/shim.ts) takes: its uid, the one
 * port of the host its user may reach (src/host/sandbox-net.ts); 0 (the kernel picks) outside the range, where no filter
 * applies. The range is above Linux's default ephemeral ports (32768-60999): no connection of the host's takes one.
 */
export function runtimeApiPort(uid: number): number {
  return uid >= SANDBOX_UID_FIRST && uid <= SANDBOX_UID_LAST ? uid : 0;
}
