import type { QueryHandler } from '../../query/endpoint.js';

export const userActions: Record<string, QueryHandler> = {};
