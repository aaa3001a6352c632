/** Which resources exist in an account, by id, whatever their type: what CreateTags and DeleteTags may name. */
import { CloudError, notFound } from './errors.js';
import type { Images } from './images.js';
import type { Instances } from './instances/index.js';
import type { KeyPairs } from './keypairs.js';
import type { Network } from './network.js';
import { resourceType } from './tags.js';

export class Resources {
  constructor(
    private readonly instances: Pick<Instances, 'getMany'>,
    private readonly images: Pick<Images, 'get'>,
    private readonly keyPairs: Pick<KeyPairs, 'list'>,
    private readonly network: Pick<Network, 'vpcs' | 'subnets' | 'securityGroups' | 'routeTables' | 'addresses' | 'natGateways'>,
  ) {}

  /**
   * Every id names a resource of a type pcloud knows, and those pcloud looks up (instances, images, key pairs, VPCs,
   * subnets, security groups, route tables, Elastic IPs, NAT gateways) exist in the account; otherwise the type's own NotFound (or InvalidID).
   */
  checkExist(accountId: string, ids: string[]): void {
    if (!ids.length) throw new CloudError('MissingParameter', 'The request must contain the parameter ResourceId');
    const instanceIds = ids.filter((id) => id.startsWith('i-'));
    if (instanceIds.length) this.instances.getMany(accountId, instanceIds);
    for (const id of ids) {
      const type = resourceType(id);
      if (!type) throw new CloudError('InvalidID', `The ID '${id}' is not valid`);
      if (type === 'image') this.images.get(id);
      if (type === 'key-pair') this.keyPairs.list(accountId, [], [id]);
      if (type === 'vpc' && !this.network.vpcs(accountId).some((v) => v.id === id)) {
        throw new CloudError('InvalidVpcID.NotFound', `The vpc ID '${id}' does not exist`);
      }
      if (type === 'subnet' && !this.network.subnets(accountId).some((v) => v.id === id)) {
        throw new CloudError('InvalidSubnetID.NotFound', `The subnet ID '${id}' does not exist`);
      }
      if (type === 'security-group' && !this.network.securityGroups(accountId).some((v) => v.id === id)) {
        throw new CloudError('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
      }
      if (type === 'route-table' && !this.network.routeTables(accountId).some((t) => t.id === id)) throw notFound('InvalidRouteTableID.NotFound', id);
      if (type === 'elastic-ip' && !this.network.addresses.list(accountId).some((a) => a.allocationId === id)) {
        throw new CloudError('InvalidAllocationID.NotFound', `The allocation ID '${id}' does not exist`);
      }
      if (type === 'natgateway') this.network.natGateways.get(accountId, id);
    }
  }
}
