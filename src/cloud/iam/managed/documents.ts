/**
 * The AWS managed policies' data (src/cloud/iam/managed/index.ts serves it): AWS's published documents, policy ids,
 * default versions and dates. Sorted by name.
 */

export interface ManagedSource {
  name: string;
  path: string;
  id: string;
  description: string;
  versionId: string;
  createDate: string;
  updateDate: string;
  document: unknown;
}

export const MANAGED: readonly ManagedSource[] = [
  {
    name: 'AdministratorAccess', path: '/', id: 'ANPAIWMBCKSKIEE64ZLYK', versionId: 'v1',
    description: 'Provides full access to AWS services and resources.',
    createDate: '2015-02-06T18:39:46Z', updateDate: '2015-02-06T18:39:46Z',
    document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
  },
];
