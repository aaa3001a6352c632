/**
 * The one boundary between the host's failures and the API. A host driver's error (execa's ExecaError with its
 * command line and stderr, a Node error with a path, an address, a PID) is for the server's log only; what reaches a
 * user is a CloudError saying what the user can do, or InternalError with a generic message. Text that came from the
 * host and must be quoted (an archive's complaint) goes through hostText() first.
 */
import { log } from '../../log.js';
import { CloudError } from '../errors.js';

export const INTERNAL_MESSAGE = 'An internal error has occurred';

/** InternalError, worded generically: nothing of the failure's detail. */
export const internalError = () => new CloudError('InternalError', INTERNAL_MESSAGE);

/** All that is known of a failure, for the server's log (never for a response). */
export function failureDetail(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const stderr = (err as { stderr?: unknown }).stderr;
  const extra = typeof stderr === 'string' && stderr && !err.message.includes(stderr) ? `\n${stderr}` : '';
  return `${err.stack ?? err.message}${extra}`;
}

/**
 * What the API says of a failure in `what` (e.g. "mounting vol-1 in i-2"): a domain error as it is; a host failure the
 * user can act on as `refusal` words it; anything else as InternalError. The failure's detail goes to the server log.
 */
export function hostFailure(err: unknown, what: string, refusal?: (err: unknown) => CloudError | undefined): CloudError {
  if (err instanceof CloudError) return err;
  const answer = refusal?.(err);
  (answer ? log.warn : log.error)(`${what} failed: ${failureDetail(err)}`);
  return answer ?? internalError();
}

const COMMAND = /\bCommand (?:failed|was killed|timed out|was canceled)\b[^\n]*/gi;
const PATH = /(?<![\w.-])\/[^\s'"`(),;:<>]+/g;
const IPV4 = /\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b/g;
/** Hex digits and colons, two colons at least (a time like 12:30:05 goes too: nothing a user misses). */
const IPV6 = /(?<![\w:.])(?=[0-9a-f]*:[0-9a-f]*:)[0-9a-f:]{2,}(?![\w:])/gi;
const PID = /(?<![\w-])(pid|process|-t|--target)\b(\s*[=:]?\s*)\d+/gi;
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

/**
 * Host-made text made fit to quote to a user: no command line, path, address or PID, no control characters, at most
 * `max` characters. For what a user needs to read from the host (an archive's complaint about its own content);
 * everything else the host says stays in the log (hostFailure).
 */
export function hostText(text: string, max = 200): string {
  const out = text.slice(0, max * 20)
    .replace(COMMAND, 'a host command failed')
    .replace(CONTROL, ' ')
    .replace(PATH, '<path>')
    .replace(IPV4, '<address>')
    .replace(IPV6, '<address>')
    .replace(PID, '$1$2<pid>')
    .replace(/\s+/g, ' ')
    .trim();
  return out.length > max ? `${out.slice(0, max - 1)}…` : out;
}
