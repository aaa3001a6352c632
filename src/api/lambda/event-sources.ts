/**
 * Event source mappings: this cloud has no event sources (no queues, streams or brokers), so there are never any
 * mappings: the list is empty, a mapping is not found, and creating one names a source that does not exist here.
 */
import { CloudError } from '../../cloud/errors.js';
import { parseBody } from './body.js';
import { pageRequest } from './params.js';
import type { Operations } from './routes.js';
import { json } from './shapes.js';

const notFound = () => new CloudError('ResourceNotFoundException', 'The resource you requested does not exist.');

export const eventSourceOps: Operations = {
  ListEventSourceMappings: ({ q }) => {
    pageRequest(q); // MaxItems checked as on every list
    return json({ EventSourceMappings: [] });
  },
  GetEventSourceMapping: () => { throw notFound(); },
  DeleteEventSourceMapping: () => { throw notFound(); },
  UpdateEventSourceMapping: () => { throw notFound(); },
  CreateEventSourceMapping: ({ body }) => {
    const source = parseBody('CreateEventSourceMapping', body).EventSourceArn as string | undefined;
    throw new CloudError('InvalidParameterValueException', source === undefined
      ? 'Unrecognized event source, must be kinesis, dynamodb stream, sqs, msk or kafka: pcloud has none of them, so a mapping needs a self-managed source it cannot serve either.'
      : `Unrecognized event source: ${source.slice(0, 256)} does not exist in this cloud (pcloud has no queues, streams or brokers to map to a function).`);
  },
};
