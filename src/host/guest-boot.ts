/**
 * The host side of the guest protocol (README, "Instance status"): what a guest says about its boot, and what the unit
 * manager is told. A guest of ours says `READY=1` with `X_PCLOUD_BOOT=initializing` once its system is up (network,
 * sshd on its private address): the instance is `running` and its status checks `initializing`; later
 * `X_PCLOUD_BOOT=ok` (cloud-init done, user-data ran or still runs past the guest's bound) or `X_PCLOUD_BOOT=impaired`
 * (cloud-init failed). The status goes to the unit manager as the unit's status text (sd_notify `STATUS=`), where it
 * outlives the server. A guest that says READY=1 alone is an image from before the protocol: ok at once.
 *
 * Used by the main processes of instance units: container-ready.ts (datagrams) and vm-ready.ts (lines on a
 * virtio-serial port). Guest messages are hostile: bounded, only the known keys with known values are acted on, and
 * nothing of them is ever logged or passed on.
 */
/** The unit's status text for each stage: the domain reads it back (instances/health.ts). */
export type BootStatus = 'starting' | 'running' | 'ok' | 'impaired';

/** What one message (a datagram, or a group of lines) of the guest said: only what the protocol knows. */
export interface GuestSignal {
  ready: boolean;
  boot?: 'initializing' | 'ok' | 'impaired';
}

/** The longest message acted on: sd_notify messages of the protocol are a few dozen bytes. */
export const MAX_GUEST_MESSAGE = 4096;

const BOOT_VALUES = new Set(['initializing', 'ok', 'impaired']);

/** A guest's message (newline-separated KEY=VALUE) read for the protocol's keys; anything else is ignored, a message too long entirely. */
export function parseGuest(msg: Buffer | string): GuestSignal {
  const text = typeof msg === 'string' ? msg : msg.toString('latin1');
  const out: GuestSignal = { ready: false };
  if (text.length > MAX_GUEST_MESSAGE) return out;
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === 'READY=1') out.ready = true;
    else if (line.startsWith('X_PCLOUD_BOOT=')) {
      const v = line.slice('X_PCLOUD_BOOT='.length);
      if (BOOT_VALUES.has(v)) out.boot = v as GuestSignal['boot'];
    }
  }
  return out;
}

/**
 * One boot's state, from the guest's signals (and, for a container, its init's READY through nspawn); `send` gets the
 * sd_notify message for the unit manager each time something changes: READY=1 once, STATUS= at each stage.
 */
export class BootState {
  private ready = false;
  private status: BootStatus = 'starting';
  /** A final word (ok, impaired) that came before READY=1. */
  private early?: 'ok' | 'impaired';
  /** The guest has said X_PCLOUD_BOOT (it speaks the protocol: READY=1 alone no longer means ok). */
  private speaks = false;

  constructor(private readonly send: (msg: string) => void) {}

  get current(): { ready: boolean; status: BootStatus } {
    return { ready: this.ready, status: this.status };
  }

  /** The boot begins (the unit's main process started, or started again on a reboot). */
  begin(): void {
    this.send('STATUS=starting');
  }

  /** A message from the guest. */
  guest(sig: GuestSignal): void {
    if (sig.boot) this.speaks = true;
    const final = sig.boot === 'ok' || sig.boot === 'impaired' ? sig.boot : undefined;
    if (!this.ready) {
      if (!sig.ready) {
        this.early ??= final;
        return;
      }
      // READY=1 with no X_PCLOUD_BOOT ever: a guest from before the protocol, whose boot is done by then.
      this.up(final ?? this.early ?? (this.speaks ? 'running' : 'ok'));
      return;
    }
    if (final && this.status === 'running') {
      this.status = final;
      this.send(`STATUS=${final}`);
    }
  }

  /**
   * The container's init says its boot is done (nspawn's READY=1). An image that does not speak the protocol is
   * running and ok then (its boot, cloud-init included, is over); one that does is at least running, its status still
   * the guest's to give.
   */
  initReady(speaksProtocol: boolean): void {
    if (this.ready) return;
    this.up(speaksProtocol ? (this.early ?? 'running') : 'ok');
  }

  private up(status: BootStatus): void {
    this.ready = true;
    this.status = status;
    this.send(`READY=1\nSTATUS=${status}`);
  }
}
