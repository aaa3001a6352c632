/**
 * STS's error codes: the one list (AWS's codes and statuses for STS's Query API and its common errors).
 * To add one: one line, in sorted order: `Code: client` (400) or `Code: { status: N }`.
 */
import { client, type ErrorSpec } from './spec.js';

export const stsErrors = {
  AccessDenied: { status: 403 },
  AuthFailure: { status: 401 },
  ExpiredToken: { status: 403 },
  InternalError: { status: 500 },
  InvalidAction: client,
  InvalidClientTokenId: { status: 403 },
  InvalidParameterValue: client,
  MalformedPolicyDocument: client,
  PackedPolicyTooLarge: client,
  RegionDisabledException: { status: 403 },
  RequestEntityTooLarge: { status: 413 },
  ValidationError: client,
} as const satisfies Record<string, ErrorSpec>;

export type StsCode = keyof typeof stsErrors;
