/** A unit manager that really runs the one unit it is given (nginx, in the nginx tests); the rest as FakeUnits keeps it. */
import { spawn, type ChildProcess } from 'node:child_process';
import type { UnitSpec } from '../../src/host/units/types.js';
import { FakeUnits } from './fake-host.js';

export class SpawnUnits extends FakeUnits {
  child?: ChildProcess;
  /** The next signal fails, as a unit manager's may (the unit gone, its bus away). */
  failNextSignal = false;
  override async start(spec: UnitSpec): Promise<void> {
    await super.start(spec);
    this.child = spawn(spec.exec[0]!, spec.exec.slice(1), { stdio: 'ignore' });
  }
  override async signal(name: string, signal: string): Promise<void> {
    if (this.failNextSignal) {
      this.failNextSignal = false;
      throw new Error(`cannot signal ${name}`);
    }
    await super.signal(name, signal);
    this.child?.kill(signal as NodeJS.Signals);
  }
  override async stop(name: string) {
    const c = this.child;
    if (c && c.exitCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGQUIT');
      await exited;
    }
    return super.stop(name);
  }
}
