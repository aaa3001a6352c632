/**
 * STS's error codes: the one list (the codes the endpoint answers today; AWS's common errors: InvalidAction 400,
 * InvalidClientTokenId 403, InternalFailure 500).
 * To add one: one line, in sorted order: `Code: client` (400) or `Code: { status: N }`.
 */
import { client, type ErrorSpec } from './spec.js';

export const stsErrors = {
  AuthFailure: { status: 401 },
  InternalError: { status: 500 },
  InvalidAction: client,
  RequestEntityTooLarge: { status: 413 },
  ValidationError: client,
} as const satisfies Record<string, ErrorSpec>;

export type StsCode = keyof typeof stsErrors;
