/** `pcloud console <instance-id>`: a SigV4-presigned URL of the instance's console page, signed with its account's key. */
import aws4 from 'aws4';
import type { AccessKey } from '../cloud/accounts.js';

export function presignedConsoleUrl(endpoint: string, key: AccessKey, region: string, instanceId: string, expiresSec = 300): string {
  const url = new URL(endpoint);
  const signed = aws4.sign({
    host: url.host, path: `/pcloud/console/${instanceId}?X-Amz-Expires=${expiresSec}`, method: 'GET', service: 'ec2', region, signQuery: true,
  }, { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
  return `${url.protocol}//${url.host}${signed.path}`;
}
