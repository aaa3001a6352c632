/**
 * STS's error codes: the one list (AWS's STS API reference: common errors).
 * To add one: one line, in sorted order: `Code: client` (400) or `Code: { status: N }`.
 */
import { client, type ErrorSpec } from './spec.js';

export const stsErrors = {
  AuthFailure: { status: 403 },
  InternalFailure: { status: 500 },
  InvalidAction: client,
  InvalidClientTokenId: { status: 403 },
  MissingAuthenticationToken: { status: 403 },
  RequestEntityTooLarge: { status: 413 },
  RequestExpired: client,
  SignatureDoesNotMatch: { status: 403 },
} as const satisfies Record<string, ErrorSpec>;

export type StsCode = keyof typeof stsErrors;
