/** The STS endpoint (Query protocol, 2011-06-15): who am I (GetCallerIdentity), and temporary credentials. */
import { stsErrors } from '../../cloud/errors.js';
import { serviceModel } from '../model/index.js';
import type { QueryService } from '../query/endpoint.js';
import { stsActions } from './actions.js';

export const sts: QueryService = {
  model: serviceModel('sts-2011-06-15'),
  ns: 'https://sts.amazonaws.com/doc/2011-06-15/',
  actions: new Map(Object.entries(stsActions)),
  errors: stsErrors,
};

/** The STS operations pcloud answers (the coverage table lists the model's others as not implemented). */
export const stsOperations: ReadonlySet<string> = new Set(sts.actions.keys());
