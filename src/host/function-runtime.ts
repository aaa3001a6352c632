/**
 * A function's runtime process, as its unit starts it (functions.ts): the shim's command for its runtime and serving,
 * the host files its sandbox shows, the environment Lambda sets, where its layers' programs and libraries are, and the
 * text of its credentials file.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../paths.js';
import { programPrefix, TASK_ROOT } from './sandbox.js';
import type { FunctionUnitOptions, SessionCredentials } from './types.js';

/**
 * The Python functions run on: `configured` (PCLOUD_PYTHON), else Debian's /usr/bin/python3 (the `python3` package),
 * else whatever `python3` is on PATH. Not PATH first: a version manager's shim there (pyenv's is a shell script) costs
 * every per-request invoke ~100 ms before Python even starts.
 */
export function pythonCommand(configured?: string): string {
  return configured ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
}

/**
 * How a function's runtime serves its socket: `serve` (a warm worker, the listening socket its fd 3), `accept` (a
 * process per connection, its fd 3, started by the socket) or `prefork` (Python per request: one process that loads the
 * handler and forks a child per connection it accepts).
 */
export type RuntimeServing = 'serve' | 'accept' | 'prefork';

/** How a function version's runtime serves: Node and provided per request are started one request ahead (front.py). */
export function runtimeServing(o: FunctionUnitOptions): RuntimeServing {
  if (o.mode !== 'per-request' || o.console) return 'serve';
  return o.runtime.startsWith('python3') ? 'prefork' : 'accept';
}

/**
 * The command a runtime's requests run: the shim for it, with the function's handler contract (the code where the
 * sandbox shows it: TASK_ROOT).
 */
export function runtimeCommand(o: FunctionUnitOptions, serving: RuntimeServing, python = pythonCommand(), concurrency = 1, credentials?: string): string[] {
  if (o.console) {
    return [process.execPath, join(projectRoot(), 'dist/src/runtime/console-proxy.js'), `--vnc=${o.console.vncPath}`,
      `--instance=${o.console.instanceId}`, `--idle=${o.console.idleSec}`, `--state=${o.console.stateFile}`];
  }
  const args = [`--runtime=${o.runtime}`, `--code=${TASK_ROOT}`, `--handler=${o.handler}`, `--function=${o.functionName}`,
    `--version=${o.version}`, `--arn=${o.arn}`, `--memory=${o.memoryMiB}`, `--timeout=${o.timeoutSec}`, `--idle=${o.idleSec}`,
    ...(serving === 'accept' ? ['--accept'] : serving === 'prefork' ? ['--prefork', `--concurrency=${concurrency}`, '--private-tmp'] : []),
    ...(credentials ? [`--credentials=${credentials}`] : [])];
  if (o.runtime.startsWith('python3')) return [python, join(projectRoot(), 'src/runtime/python_shim.py'), ...args];
  // The function's memory is the heap it may use (a per-request unit holds many such processes at once).
  return [process.execPath, `--max-old-space-size=${o.memoryMiB}`, join(projectRoot(), 'dist/src/runtime/shim.js'), ...args];
}

/** What of the host a runtime's sandbox must show besides /usr (read-only): the shim, and the interpreter if elsewhere. */
export function runtimeFiles(o: FunctionUnitOptions, python = pythonCommand()): string[] {
  const root = projectRoot();
  if (o.runtime.startsWith('python3')) return [join(root, 'src/runtime'), ...programPrefix(python)];
  // dist/src/runtime/shim.js is ESM by the project's package.json.
  return [join(root, 'package.json'), join(root, 'dist/src/runtime'), ...programPrefix(process.execPath)];
}

/** What every function process sees besides the function's own variables (as Lambda sets them). */
export function lambdaEnvironment(o: FunctionUnitOptions): Record<string, string> {
  return {
    AWS_LAMBDA_FUNCTION_NAME: o.functionName, AWS_LAMBDA_FUNCTION_VERSION: o.version, AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(o.memoryMiB),
    AWS_REGION: o.region, AWS_DEFAULT_REGION: o.region, AWS_EXECUTION_ENV: `AWS_Lambda_${o.runtime}`, LAMBDA_TASK_ROOT: TASK_ROOT,
    _HANDLER: o.handler, TZ: ':UTC', LANG: 'en_US.UTF-8', PATH: '/usr/local/bin:/usr/bin:/bin', PYTHONUNBUFFERED: '1',
    ...(o.layers?.length ? layerPaths(o.runtime) : {}),
    ...o.environment,
    // The pcloud API for the SDKs (boto3 >= 1.28, the JS SDK v3, the AWS CLI v2 read it): after the function's own
    // variables, which may not name it (params.ts refuses AWS_ keys) but may have been stored before that was checked.
    ...(o.endpoint ? { AWS_ENDPOINT_URL: o.endpoint } : {}),
  };
}

/** A function version's credentials file's name, in its credentials directory (at CREDENTIALS_ROOT in its sandbox). */
export const CREDENTIALS_FILE = 'credentials.json';

/** The credentials file's text: the JSON a container credentials endpoint serves, which the shims read. */
export function credentialsText(c: SessionCredentials): string {
  return `${JSON.stringify({ AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, Token: c.sessionToken, Expiration: c.expiration.toISOString() })}\n`;
}

/**
 * Where a runtime looks in a function's layers (/opt), as Lambda sets it: programs in /opt/bin, libraries in /opt/lib,
 * Python packages in /opt/python (and its site-packages), Node modules in /opt/nodejs/node_modules (and node20's).
 * Set for functions with layers (without any, /opt is not there).
 */
export function layerPaths(runtime: string): Record<string, string> {
  const paths: Record<string, string> = { PATH: '/usr/local/bin:/usr/bin:/bin:/opt/bin', LD_LIBRARY_PATH: `${TASK_ROOT}/lib:/opt/lib` };
  if (runtime.startsWith('python')) paths.PYTHONPATH = `/opt/python/lib/${runtime.replace(/\.x$/, '')}/site-packages:/opt/python`;
  if (runtime.startsWith('nodejs')) paths.NODE_PATH = `/opt/nodejs/node${/^nodejs(\d+)/.exec(runtime)?.[1] ?? ''}/node_modules:/opt/nodejs/node_modules:${TASK_ROOT}`;
  return paths;
}
