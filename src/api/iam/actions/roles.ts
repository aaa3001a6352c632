import type { QueryHandler } from '../../query/endpoint.js';

export const roleActions: Record<string, QueryHandler> = {};
