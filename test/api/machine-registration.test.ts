/**
 * Whether a container registers with the host's machine registry (machined) is its unit manager's to say
 * (UnitManager.registersMachines), not the launcher's reading of which manager runs: nspawn is told to register only
 * under a manager that has a registry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { startApi, until, type TestApi } from '../support/api.js';

let api: TestApi;
beforeAll(async () => { api = await startApi(); });
afterAll(async () => { await api?.close(); });

async function launchedExec(): Promise<string[]> {
  const res = await api.ec2.send(new RunInstancesCommand({ ImageId: api.imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1 }));
  const name = `pcloud-instance@${res.Instances![0]!.InstanceId!}`;
  const spec = await until(() => api.units.started.find((s) => s.name === name));
  return spec.exec;
}

describe('machine registration of containers', () => {
  it('follows the unit manager: no registry, no registration; a registry, registration', async () => {
    api.units.registersMachines = false;
    const without = await launchedExec();
    expect(without).toContain('--register=no');
    expect(without).not.toContain('--register=yes');
    api.units.registersMachines = true;
    const withRegistry = await launchedExec();
    expect(withRegistry).toContain('--register=yes');
    expect(withRegistry).not.toContain('--register=no');
  });
});
