/** The IAM endpoint (Query protocol, 2010-05-08): its actions, found by name, each in the file of its resource. */
import { iamErrors } from '../../cloud/errors.js';
import { serviceModel } from '../model/index.js';
import type { QueryHandler, QueryService } from '../query/endpoint.js';
import { accountActions } from './actions/account.js';
import { policyActions } from './actions/policies.js';
import { profileActions } from './actions/profiles.js';
import { roleActions } from './actions/roles.js';
import { userActions } from './actions/users.js';

const model = serviceModel('iam-2010-05-08');

export const iam: QueryService = {
  model,
  ns: 'https://iam.amazonaws.com/doc/2010-05-08/',
  actions: new Map(Object.entries({
    ...userActions, ...roleActions, ...policyActions, ...profileActions, ...accountActions,
  } satisfies Record<string, QueryHandler>)),
  errors: iamErrors,
};

/** The IAM operations pcloud answers (the coverage table lists the model's others as not implemented). */
export const iamOperations: ReadonlySet<string> = new Set(iam.actions.keys());
