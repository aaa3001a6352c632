/** STS, as far as the AWS CLI, SDKs and Terraform's provider ask it who they are: GetCallerIdentity. */
import xml2js from 'xml2js';
import { specOf, stsErrors } from '../../cloud/errors.js';
import { requestId as newRequestId } from '../../cloud/ids.js';
import { xmlSafe } from '../ec2/xml.js';
import type { Principal } from '../auth/sigv4.js';

const NS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const builder = new xml2js.Builder({ renderOpts: { pretty: false }, xmldec: { version: '1.0', encoding: 'UTF-8' } });

/** The STS operations pcloud answers (the coverage table lists the model's others as not implemented). */
export const stsOperations: ReadonlySet<string> = new Set(['GetCallerIdentity']);

/** STS's error XML; the status from the domain's catalogue (src/cloud/errors/sts.ts), a code it lacks is a 400. */
export function stsError(code: string, message: string, status = specOf(stsErrors, code)?.status ?? 400): Response {
  const xml = builder.buildObject({
    ErrorResponse: { $: { xmlns: NS }, Error: { Type: status >= 500 ? 'Receiver' : 'Sender', Code: xmlSafe(code), Message: xmlSafe(message) }, RequestId: newRequestId() },
  });
  return new Response(xml, { status, headers: { 'content-type': 'text/xml' } });
}

export function handleSts(principal: Principal, body: string): Response {
  const action = new URLSearchParams(body).get('Action');
  if (action === null || !stsOperations.has(action)) return stsError('InvalidAction', `Could not find operation ${action ?? ''}`);
  const xml = builder.buildObject({
    GetCallerIdentityResponse: {
      $: { xmlns: NS },
      GetCallerIdentityResult: {
        Arn: `arn:aws:iam::${principal.accountId}:root`, UserId: principal.accountId, Account: principal.accountId,
      },
      ResponseMetadata: { RequestId: newRequestId() },
    },
  });
  return new Response(xml, { status: 200, headers: { 'content-type': 'text/xml' } });
}
