import type { QueryHandler } from '../../query/endpoint.js';

export const profileActions: Record<string, QueryHandler> = {};
