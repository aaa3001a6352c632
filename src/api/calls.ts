/**
 * One API request as the server saw it once answered: what the access log writes and the metrics count. Every value is
 * one pcloud made or chose from a fixed set (a service, an action it knows, a status, an error code of its catalogues,
 * the request id its answer carries) or the signer's account and ARN: never the request's own text, its body,
 * signature or query string.
 */
export interface ApiCall {
  /** The request id the answer carries (x-amzn-requestid). */
  requestId: string;
  /** ec2, sts, iam, lambda; pcloud (its own routes: the console, the dashboard, noVNC's files, nginx's authorizer, hosts' images); unknown. */
  service: string;
  /** The action or operation, when it is one the service has; else absent. */
  action?: string;
  status: number;
  /** The error code answered, when the request failed and pcloud knows it. */
  errorCode?: string;
  /** From the request's arrival to its answer (its headers; a body streamed after is not counted). */
  ms: number;
  /** The signer's account and ARN, once the signature was verified. */
  accountId?: string;
  principalArn?: string;
  /** The peer's address. */
  sourceIp?: string;
}

/** What the service's handler found out about a request: filled in as it goes, read when the answer is out. */
export interface CallFacts {
  action?: string;
  errorCode?: string;
}

const SERVICES: ReadonlySet<string> = new Set(['ec2', 'sts', 'iam', 'lambda']);

/** The service as a label: one of those served, else unknown (a credential scope names whatever its signer wrote). */
export const knownService = (service: string): string => (SERVICES.has(service) ? service : 'unknown');

/** pcloud's own routes by their path's start, and the name each is counted by. */
const ROUTES: readonly (readonly [string, string])[] = [
  ['/pcloud/lambda/authorize/', 'LambdaAuthorize'],
  ['/pcloud/lambda/url-relay', 'FunctionUrlRelay'],
  ['/pcloud/identity-certificate.pem', 'IdentityCertificate'],
  ['/pcloud/novnc/', 'NoVncFile'],
  ['/pcloud/console/', 'ConsolePage'],
  ['/pcloud/dashboard/state', 'DashboardState'],
  ['/pcloud/dashboard/console/', 'DashboardConsole'],
  ['/pcloud/dashboard', 'Dashboard'],
  ['/pcloud/hosts/join', 'HostJoin'],
  ['/pcloud/hosts/images/', 'HostImage'],
];

/** A path under /pcloud/: pcloud's own route, by a name of the table above (undefined: an unknown one). */
export function pcloudRoute(path: string): { action?: string } | undefined {
  if (!path.startsWith('/pcloud/')) return undefined;
  const found = ROUTES.find(([prefix]) => path.startsWith(prefix));
  return { action: found?.[1] };
}

/** An error code as pcloud's catalogues spell them (letters, digits, dots); anything else is not written anywhere. */
export const errorCodeOf = (code: string | null | undefined): string | undefined =>
  code && code.length <= 100 && /^[A-Za-z][A-Za-z0-9.]*$/.test(code) ? code : undefined;
