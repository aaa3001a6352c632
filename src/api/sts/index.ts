/** The STS endpoint (Query protocol, 2011-06-15): who am I (GetCallerIdentity), and temporary credentials. */
import { stsErrors } from '../../cloud/errors.js';
import { arnOf, userIdOf } from '../../cloud/iam/identity.js';
import { serviceModel } from '../model/index.js';
import type { QueryHandler, QueryService } from '../query/endpoint.js';

const actions: Record<string, QueryHandler> = {
  GetCallerIdentity: ({ principal }) => ({
    UserId: userIdOf(principal.identity), Account: principal.accountId, Arn: arnOf(principal.identity),
  }),
};

export const sts: QueryService = {
  model: serviceModel('sts-2011-06-15'),
  ns: 'https://sts.amazonaws.com/doc/2011-06-15/',
  actions: new Map(Object.entries(actions)),
  errors: stsErrors,
};

/** The STS operations pcloud answers (the coverage table lists the model's others as not implemented). */
export const stsOperations: ReadonlySet<string> = new Set(sts.actions.keys());
