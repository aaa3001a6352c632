import type { QueryHandler } from '../../query/endpoint.js';

export const accountActions: Record<string, QueryHandler> = {};
