/** Which resources exist in an account, by id, whatever their type: what CreateTags and DeleteTags may name. */
import { CloudError, notFound } from './errors.js';
import type { Images } from './images.js';
import type { Instances } from './instances/index.js';
import type { KeyPairs } from './keypairs.js';
import type { LaunchTemplates } from './launch-templates.js';
import type { Network } from './network.js';
import type { Snapshots } from './snapshots.js';
import type { Volumes } from './volumes.js';
import { resourceType } from './tags.js';

/** What the lookups of one account need: each answers whether the account holds the id (or throws its NotFound). */
export interface AccountResources {
  instances: Pick<Instances, 'getMany' | 'describe'>;
  images: Pick<Images, 'get'>;
  keyPairs: Pick<KeyPairs, 'list'>;
  network: Pick<Network, 'vpcs' | 'subnets' | 'securityGroups' | 'routeTables' | 'addresses' | 'natGateways' | 'internetGateways'>;
  volumes: Pick<Volumes, 'list'>;
  snapshots: Pick<Snapshots, 'get'>;
  templates: Pick<LaunchTemplates, 'get'>;
}

export class Resources {
  constructor(private readonly r: AccountResources) {}

  /**
   * Every id names a resource of a type pcloud knows that the account holds (tags are the account's to set on its own
   * resources only); otherwise the type's own NotFound (or InvalidID).
   */
  async checkExist(accountId: string, ids: string[]): Promise<void> {
    if (!ids.length) throw new CloudError('MissingParameter', 'The request must contain the parameter ResourceId');
    const { instances, images, keyPairs, network, volumes, snapshots, templates } = this.r;
    const instanceIds = ids.filter((id) => id.startsWith('i-'));
    if (instanceIds.length) await instances.getMany(accountId, instanceIds);
    /** Whether one of the account's instances has `value` under the filter `name` (its root volume, interface, reservation). */
    const anInstance = async (name: string, value: string) => (await instances.describe(accountId, { ids: [], filters: [{ name, values: [value] }], maxResults: 5 })).instances.length > 0;
    for (const id of ids) {
      const type = resourceType(id);
      if (!type) throw new CloudError('InvalidID', `The ID '${id}' is not valid`);
      const missing = (code: Parameters<typeof notFound>[0]) => { throw notFound(code, id); };
      switch (type) {
        case 'instance': break;
        case 'image': if ((await images.get(id, accountId)).ownerId !== accountId) missing('InvalidAMIID.NotFound'); break;
        case 'key-pair': await keyPairs.list(accountId, [], [id]); break;
        case 'vpc': if (!(await network.vpcs(accountId)).some((v) => v.id === id)) missing('InvalidVpcID.NotFound'); break;
        case 'subnet': if (!(await network.subnets(accountId)).some((v) => v.id === id)) missing('InvalidSubnetID.NotFound'); break;
        case 'security-group': if (!(await network.securityGroups(accountId)).some((v) => v.id === id)) missing('InvalidGroup.NotFound'); break;
        case 'internet-gateway': if (!(await network.internetGateways(accountId)).some((g) => g.id === id)) missing('InvalidInternetGatewayID.NotFound'); break;
        case 'route-table': if (!(await network.routeTables(accountId)).some((t) => t.id === id)) missing('InvalidRouteTableID.NotFound'); break;
        case 'elastic-ip': if (!(await network.addresses.list(accountId)).some((a) => a.allocationId === id)) missing('InvalidAllocationID.NotFound'); break;
        case 'natgateway': await network.natGateways.get(accountId, id); break;
        case 'volume': if (!(await volumes.list(accountId)).some((v) => v.id === id) && !(await anInstance('block-device-mapping.volume-id', id))) missing('InvalidVolume.NotFound'); break;
        case 'network-interface': if (!(await anInstance('network-interface.network-interface-id', id))) missing('InvalidNetworkInterfaceID.NotFound'); break;
        case 'reservation': if (!(await anInstance('reservation-id', id))) throw new CloudError('InvalidID', `The ID '${id}' is not valid`); break;
        case 'snapshot': await snapshots.get(accountId, id); break;
        case 'launch-template': await templates.get(accountId, { id }); break;
        default: throw new CloudError('InvalidID', `The ID '${id}' is not valid`);
      }
    }
  }
}
