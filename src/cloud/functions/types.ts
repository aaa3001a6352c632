/**
 * The bottom of the functions domain: the types, limits and names every piece shares. It imports none of the pieces.
 */
import type { FunctionConfig, functions } from '../../db/schema.js';
import { CloudError } from '../errors.js';

export type FunctionRow = typeof functions.$inferSelect;

export const RUNTIMES = ['nodejs20.x', 'python3.11', 'python3.12', 'provided.al2023'] as const;
/** A function's name as Lambda takes it. */
export const NAME = /^[a-zA-Z0-9_-]{1,64}$/;
export const SYNC_PAYLOAD_MAX = 6 * 1024 * 1024;
export const ASYNC_PAYLOAD_MAX = 256 * 1024;
/** A deployment package uploaded inline (Lambda: 50 MB zipped; the request that carries it in base64, 69905067 bytes). */
export const ZIP_MAX = 50 * 1024 * 1024;
export const ZIP_REQUEST_MAX = 69905067;
/** A function's environment variables together, measured as Lambda does: their JSON, in bytes. */
export const ENVIRONMENT_MAX = 4096;

/** A function whose environment names an instance is a "fat lambda": its URL serves that VM's console. */
export const CONSOLE_ENV = 'PCLOUD_CONSOLE_INSTANCE';
export const CONSOLE_IDLE_ENV = 'PCLOUD_CONSOLE_IDLE_SEC';

/** The tag that switches a function between a process per request and a warm worker. */
export const MODE_TAG = 'pcloud:invoke-mode';

/** What fat lambdas need of instances: a VM's display, and starting and stopping it. */
export interface ConsoleTargets {
  vncPath(accountId: string, instanceId: string): string;
  /** Running (started now if it was stopped; resolves once it runs). */
  ensureRunning(accountId: string, instanceId: string): Promise<void>;
  stop(accountId: string, instanceId: string): Promise<void>;
  isRunning(accountId: string, instanceId: string): Promise<boolean>;
  /** The account has this instance (a console function may only serve its own account's VMs). */
  owns(accountId: string, instanceId: string): Promise<boolean>;
}

export interface FunctionInput {
  runtime?: string;
  handler?: string;
  role?: string;
  description?: string;
  memoryMiB?: number;
  timeoutSec?: number;
  environment?: Record<string, string>;
  mode?: string;
  /** Layer version ARNs, in order ([]: none). */
  layers?: string[];
}

/** A function version's whole configuration, as GetFunctionConfiguration shows it. */
export interface FunctionView extends FunctionConfig {
  name: string;
  accountId: string;
  version: string;
  arn: string;
  lastModified: number;
}

/** A function's URL, as Get/CreateFunctionUrlConfig show it. */
export interface FunctionUrlView {
  url: string;
  arn: string;
  authType: string;
  createdAt: number;
}

export const invalid = (message: string) => new CloudError('InvalidParameterValueException', message);

/** A function version's unit and socket: `<account>-<name>-<version>` ($LATEST as `latest`). */
export function functionKey(accountId: string, name: string, version: string): string {
  return `${accountId}-${name}-${version === '$LATEST' ? 'latest' : version}`;
}
