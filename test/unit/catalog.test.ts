/** The instance family → runtime table and its override. */
import { describe, expect, it } from 'vitest';
import { defaultFamilyRuntime, familyRuntimes } from '../../src/cloud/catalog.js';

describe('runtime table', () => {
  it('maps burstable families to containers and the rest to microvm by default', () => {
    expect(familyRuntimes('')).toEqual(defaultFamilyRuntime);
    expect(defaultFamilyRuntime).toMatchObject({ t3: 'container', t4g: 'container', m5: 'microvm', c6i: 'microvm' });
  });
  it('takes PCLOUD_RUNTIMES over the defaults, and refuses unknown families or runtimes', () => {
    expect(familyRuntimes('t3=microvm, m5=container')).toMatchObject({ t3: 'microvm', m5: 'container', c5: 'microvm' });
    expect(() => familyRuntimes('x9=microvm')).toThrow(/unknown instance family/);
    expect(() => familyRuntimes('t3=firecracker')).toThrow(/not a runtime/);
  });
});
