import type { QueryHandler } from '../../query/endpoint.js';

export const policyActions: Record<string, QueryHandler> = {};
