/**
 * IAM's error codes: the one list (AWS's codes and statuses for IAM's Query API; the common ones InvalidAction 400,
 * InvalidClientTokenId 403, AccessDenied 403, ServiceFailure 500).
 * To add one: one line, in sorted order: `Code: client` (400) or `Code: { status: N }`.
 */
import { client, type ErrorSpec } from './spec.js';

export const iamErrors = {
  AccessDenied: { status: 403 },
  ConcurrentModification: { status: 409 },
  DeleteConflict: { status: 409 },
  EntityAlreadyExists: { status: 409 },
  InvalidInput: client,
  LimitExceeded: { status: 409 },
  MalformedPolicyDocument: client,
  NoSuchEntity: { status: 404 },
  PolicyNotAttachable: client,
  ServiceFailure: { status: 500 },
  UnmodifiableEntity: client,
  ValidationError: client,
} as const satisfies Record<string, ErrorSpec>;

export type IamCode = keyof typeof iamErrors;
