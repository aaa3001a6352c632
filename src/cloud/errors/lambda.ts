/**
 * Lambda's error codes: the one list (statuses as AWS's Lambda API reference gives them for each operation).
 * To add one: one line, in sorted order: `CodeException: client` (400) or `CodeException: { status: N }`.
 */
import { client, type ErrorSpec } from './spec.js';

export const lambdaErrors = {
  AccessDeniedException: { status: 403 },
  CodeStorageExceededException: client,
  InvalidParameterValueException: client,
  InvalidRequestContentException: client,
  InvalidSignatureException: { status: 403 },
  PolicyLengthExceededException: client,
  PreconditionFailedException: { status: 412 },
  RequestEntityTooLargeException: { status: 413 },
  RequestTooLargeException: { status: 413 },
  ResourceConflictException: { status: 409 },
  ResourceNotFoundException: { status: 404 },
  ResourceNotReadyException: { status: 502 },
  ServiceException: { status: 500 },
  ServiceQuotaExceededException: client,
  TooManyRequestsException: { status: 429 },
  UnknownOperationException: { status: 404 },
  UnrecognizedClientException: { status: 403 },
  UnsupportedMediaTypeException: { status: 415 },
  ValidationException: client,
} as const satisfies Record<string, ErrorSpec>;

export type LambdaCode = keyof typeof lambdaErrors;
