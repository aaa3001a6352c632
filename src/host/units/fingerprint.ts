/**
 * A unit's fingerprint: its description and what every manager renders of it (systemd's unit files, the direct
 * supervisor's argv). A unit found running under another fingerprint was started by an older pcloud, or from another
 * description: its owner starts it again, whichever manager runs it (a renderer's new hardening included).
 */
import { createHash } from 'node:crypto';
import { directSpec } from './direct-spec.js';
import { renderUnitFile } from './render.js';
import { renderSocketUnits } from './socket-units.js';
import type { UnitSpec } from './types.js';

/** A sandbox's host side as a stand-in: the real one (a user claimed at start) is not part of the description. */
const STAND_IN = { uid: 65534, seccomp: '', passwd: '', group: '' };

function rendered(render: () => unknown): unknown {
  try {
    return render();
  } catch (err) {
    // A manager that cannot render the unit refuses it at start: its refusal is its rendering.
    return `refused: ${(err as Error).message}`;
  }
}

export function unitFingerprint(spec: UnitSpec): string {
  const systemd = rendered(() => (spec.socket ? renderSocketUnits(spec) : renderUnitFile(spec)));
  const direct = rendered(() => directSpec(spec, spec.sandbox ? STAND_IN : undefined));
  return createHash('sha256').update(JSON.stringify([spec, systemd, direct])).digest('hex');
}
