/**
 * One declarative description of a unit, and the manager that runs it. Two managers implement it: systemd (any host
 * whose PID 1 is systemd) and direct (detached supervisors, for hosts without systemd such as CI's). Nothing above
 * the manager knows which one runs.
 */
export interface UnitLimits {
  /** CPU quota in percent of one CPU (200 = two CPUs). */
  cpuQuotaPercent?: number;
  memoryMaxBytes?: number;
  tasksMax?: number;
}

/**
 * What happens when the main process ends without being asked to (systemd's Restart=, RestartSec=, StartLimit*).
 * For host services (nginx, tgtd, nfs-ganesha, dnsmasq); instances follow EC2's semantics instead and have none.
 */
export interface RestartPolicy {
  /** on-failure: after an unclean exit, a signal or a start timeout; always: after any exit not asked for. */
  when: 'on-failure' | 'always';
  /** Delay before the first restart; the direct manager doubles it on each further restart inside the interval. */
  delaySec: number;
  /** More than `burst` starts within `intervalSec` and the unit gives up: failed, result `start-limit-hit`. */
  burst: number;
  intervalSec: number;
}

/** A TCP port a unit listens on that is host-wide (not in a namespace of its own): checked free before it starts. */
export interface HostPort {
  host: string;
  port: number;
  /** The setting that moves it elsewhere (said when the port is taken), e.g. PCLOUD_LAMBDA_LISTEN. */
  setting: string;
}

/** One systemd DeviceAllow= entry: a device node's path, or a driver class (`char-pts`, `block-loop`), and r/w/m access. */
export interface DeviceAllow {
  node: string;
  access: string;
}

/**
 * Which device nodes the unit's processes may open or create, whatever nodes they find (systemd's DevicePolicy=):
 * `closed` allows the standard pseudo devices and ptys, and `allow` on top (devices.ts).
 */
export interface DevicePolicy {
  policy: 'closed';
  allow: DeviceAllow[];
}

/**
 * A unit that listens on a UNIX socket and runs its program on connections (systemd's socket activation). systemd
 * renders a `.socket` unit and its service: with `accept`, a template `NAME@.service`, an instance per connection;
 * without, `NAME.service`, started on the first connection and given the listening socket. The direct manager runs
 * `systemd-socket-activate` on the socket as the unit's main process, the program its child (or itself, without
 * `accept`). The unit's `exec`, `env`, `sandbox` and `noNewPrivileges` are the program's under both.
 */
export interface SocketSection {
  /** The socket's absolute path (at most 107 bytes: sockets.ts makes long ones short). */
  listen: string;
  /** A process per connection (the connection its fd 3), or one process for every connection. */
  accept: boolean;
  /**
   * Who may connect (SocketMode=, e.g. 0o600). systemd only: the direct manager's activator, run as root with the
   * server's umask, makes a socket only root can connect to.
   */
  mode: number;
  /** How many of its processes may run at once (MaxConnections=). systemd only: the unit's `limits` bound them under direct. */
  maxConnections?: number;
  /**
   * Each process's limits. systemd gives each service the socket starts a cgroup of its own with these; the direct
   * manager's activator starts them all in the unit's one cgroup, which the unit's `limits` bound as a whole.
   */
  serviceLimits?: UnitLimits;
  /** Each process's longest run (RuntimeMaxSec=): the backstop of the program's own timeout. systemd only. */
  serviceRuntimeMaxSec?: number;
}

/**
 * Tenant code's confinement: a user of its own (never root), a read-only system that shows the host's /usr and
 * `readOnly` only, `code` read-only at TASK_ROOT (its working directory), a private /tmp, no devices, no host
 * namespaces, only UNIX and IP sockets, seccomp (@system-service), no capabilities and no new privileges. systemd:
 * DynamicUser= and its hardening settings (socket-units.ts); direct: bubblewrap and setpriv as a user of
 * sandbox-users.ts (sandbox.ts).
 */
export interface UnitSandbox {
  /** The program's code on the host, read-only at TASK_ROOT. */
  code: string;
  /** Host files or directories it needs outside /usr (its runtime, an interpreter elsewhere): read-only at the same path. */
  readOnly: string[];
  /** A Lambda function's layers, merged (host/layers.ts): read-only at /opt. */
  opt?: string;
  /** A Lambda function's credentials directory (host/functions.ts): read-only at CREDENTIALS_ROOT (host/sandbox.ts). */
  credentials?: string;
  /**
   * Host directories it must not see inside them (the data dir): systemd puts an empty read-only tmpfs over each, as
   * its read-only system shows the rest of the host; the direct manager's sandbox shows nothing it does not bind.
   */
  hidden: string[];
}

export interface UnitSpec {
  /** Unit name, e.g. `pcloud-instance@i-0123456789abcdef0`. */
  name: string;
  description: string;
  /** argv of the main process. */
  exec: string[];
  env?: Record<string, string>;
  /** notify: active only once the main process sends READY=1 on $NOTIFY_SOCKET (systemd's Type=notify). */
  type: 'simple' | 'notify';
  startTimeoutSec: number;
  stopTimeoutSec: number;
  /** Signal that asks the main process to stop (systemd's KillSignal=). */
  killSignal?: NodeJS.Signals;
  /** Exit statuses after which the unit is started again (nspawn exits 133 when its container reboots). */
  restartForceExitStatus?: number[];
  /**
   * The cgroup limits of the unit, its main process and everything it starts. A socket unit under systemd has no
   * cgroup above the services its socket starts: `socket.serviceLimits` hold each of them there instead.
   */
  limits?: UnitLimits;
  /** The main process manages its own cgroup subtree (nspawn): Delegate=yes, KillMode=mixed. */
  delegate?: boolean;
  restart?: RestartPolicy;
  /** Host-wide ports the unit listens on: start() refuses while another program (another data dir's server) holds one. */
  ports?: HostPort[];
  /** A closed device policy. The direct manager enforces it on cgroup v1 only (devices.ts says why). */
  devices?: DevicePolicy;
  /** Listen on a socket and run the program on connections (SocketSection). */
  socket?: SocketSection;
  /** Run the program confined (tenant code). Implies noNewPrivileges. */
  sandbox?: UnitSandbox;
  /** The program and what it starts can never gain privileges (setuid, file capabilities): NoNewPrivileges=, setpriv. */
  noNewPrivileges?: boolean;
}

export type ActiveState = 'activating' | 'active' | 'deactivating' | 'inactive' | 'failed';

export interface UnitStatus {
  name: string;
  state: ActiveState;
  /** Why the unit ended: success, exit-code, signal, timeout, start-failed, supervisor-died, start-limit-hit. */
  result?: string;
  mainPid?: number;
  exitCode?: number;
  signal?: string;
  statusText?: string;
  /** Extra values the main process reported with sd_notify (e.g. X_NSPAWN_LEADER_PID). */
  notify?: Record<string, string>;
  startedAt?: number;
  readyAt?: number;
  exitedAt?: number;
  /** How many times the unit was started again by its restart policy. */
  restarts?: number;
}

export function isFinal(state: ActiveState): boolean {
  return state === 'inactive' || state === 'failed';
}

export interface UnitManager {
  readonly kind: 'systemd' | 'direct';
  /**
   * Whether containers it runs register with the host's machine registry (machined: `systemd-nspawn --register=yes`);
   * a manager without one (the direct manager: no system bus) has nspawn not try. Nothing above the manager asks `kind`.
   */
  readonly registersMachines: boolean;
  /**
   * Start a unit; resolves once it is started (not necessarily ready: watch for `active`): a stop() from then on, or
   * one already waiting, ends it. Refuses (PortInUseError) while another program holds one of its host-wide ports.
   */
  start(spec: UnitSpec): Promise<void>;
  /** Stop a unit and wait until it has ended, whatever the moment (even while start() is in flight). A unit not running is a no-op. */
  stop(name: string): Promise<UnitStatus | undefined>;
  /** Restart the main process in place (reboot). */
  restart(name: string): Promise<void>;
  /** Send a signal to the unit's main process (SIGHUP: reload its configuration). A unit not running is a no-op. */
  signal(name: string, signal: NodeJS.Signals): Promise<void>;
  status(name: string): Promise<UnitStatus | undefined>;
  /** Every unit this manager knows whose name starts with prefix. */
  list(prefix: string): Promise<UnitStatus[]>;
  /** Forget a unit (stopped first if it is not ended): its state and logs. */
  remove(name: string): Promise<void>;
  /** The last maxBytes of what the unit's processes wrote to stdout/stderr (the console). */
  logs(name: string, maxBytes: number): Promise<Buffer>;
  /** The command that prints (and with follow, keeps printing) the unit's console: tail of a file, or journalctl. */
  logCommand(name: string, follow: boolean): string[];
  /** Called on every state change of any unit. */
  onChange(listener: (status: UnitStatus) => void): () => void;
  close(): void;
}
