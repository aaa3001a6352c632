/** The account: its aliases (pcloud has none) and its IAM summary. */
import { checkMaxItems } from '../../../cloud/iam/paging.js';
import type { QueryHandler } from '../../query/endpoint.js';

export const accountActions: Record<string, QueryHandler> = {
  ListAccountAliases: ({ input }) => {
    checkMaxItems(input.MaxItems as number | undefined);
    return { AccountAliases: [], IsTruncated: false };
  },
  GetAccountSummary: async ({ cloud, principal }) => ({ SummaryMap: await cloud.iam.summary(principal.accountId) }),
};
