/**
 * A host that reboots brings back every instance that was running (issue 17), on the systemd test host: pcloud serves
 * inside the node (its systemd unit manager), two containers run, the node powers off and boots again with the same
 * binds (the data dir persists; the node's /run, its units and its namespaces do not), pcloud starts again: both are
 * running again as before, with the user-data's file on their disks and no unit twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CREDS } from '../support/real.js';
import { bootNode, NODE_DIR, ROOT, type Node } from './node.js';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DATA = '/var/lib/pcloud-test';
const LISTEN = '127.0.0.1:8773';
const tar = process.env.PCLOUD_TEST_IMAGE_TAR;
const aws = (() => {
  try {
    return execFileSync('sh', ['-c', 'command -v pyenv >/dev/null && pyenv which aws || command -v aws']).toString().trim();
  } catch {
    return '';
  }
})();
const root = process.getuid?.() === 0;
const nspawn = existsSync('/usr/bin/systemd-nspawn');
const why = !root ? 'needs root' : !nspawn ? 'needs systemd-nspawn' : !aws ? 'needs the AWS CLI'
  : !tar ? 'needs the default image as a tarball (PCLOUD_TEST_IMAGE_TAR; the global setup sets it unless PCLOUD_TEST_DATA is given)' : '';
if (why) console.log(`the reboot of a systemd node with instances running is skipped: it ${why}`);

let node: Node;
/** The node's binds, the same at every boot: the checkout, the data dir, the image, the AWS CLI, node_modules. */
let binds: [string, string][];
const awsPrefix = dirname(dirname(aws || '/usr/bin/aws'));
const env = {
  PATH: `${dirname(aws || '/usr/bin/aws')}:${PATH}`, AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey,
  AWS_DEFAULT_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true',
};

/** A shell line inside the node with the AWS CLI at pcloud's endpoint (`aws ...`); its output, or the failure. */
async function sh(script: string, timeoutMs = 120_000): Promise<string> {
  const res = await node.exec(['sh', '-c', `aws() { command aws --endpoint-url http://${LISTEN} "$@"; }\n${script}`], { env, timeoutMs });
  if (res.code !== 0) throw new Error(`in the node: ${script}\n${res.out}`);
  return res.out.trim();
}

/** pcloud's server as the project ships its unit (systemd/pcloud.service), pointed at this checkout's build. */
async function serve(): Promise<void> {
  await sh([
    'cp /project/systemd/pcloud.service /etc/systemd/system/pcloud.service',
    'mkdir -p /etc/systemd/system/pcloud.service.d',
    `printf '[Service]\\nExecStart=\\nExecStart=/usr/local/bin/node /project/dist/src/cli/main.js serve --no-image\\n' > /etc/systemd/system/pcloud.service.d/checkout.conf`,
    `printf 'PCLOUD_ACCESS_KEY_ID=%s\\nPCLOUD_SECRET_ACCESS_KEY=%s\\nPCLOUD_LISTEN=${LISTEN}\\nPCLOUD_DATA=${DATA}\\nPATH=%s\\n' '${CREDS.accessKeyId}' '${CREDS.secretAccessKey}' '${PATH}' > /etc/default/pcloud`,
    'systemctl daemon-reload', 'systemctl start pcloud.service',
    'for i in $(seq 1 300); do aws ec2 describe-regions --output text >/dev/null 2>&1 && exit 0; sleep 0.2; done; journalctl -u pcloud --no-pager | tail -30; exit 1',
  ].join(' && '));
}

/** Wait (inside the node) until every instance is in the state. */
const waitState = (ids: string[], state: string) => sh(
  `for i in $(seq 1 300); do s=$(aws ec2 describe-instances --instance-ids ${ids.join(' ')} --query 'Reservations[].Instances[].State.Name' --output text); `
  + `[ -z "$(echo $s | tr ' ' '\\n' | grep -vx ${state})" ] && exit 0; sleep 0.5; done; echo "$s"; exit 1`);

/** Wait until every instance's status checks pass: its guest says it booted (cloud-init done, user-data run). */
const waitStatusOk = (ids: string[]) => sh(
  `for i in $(seq 1 300); do s=$(aws ec2 describe-instance-status --instance-ids ${ids.join(' ')} --query 'InstanceStatuses[].InstanceStatus.Status' --output text); `
  + `[ "$(echo $s | tr ' ' '\\n' | grep -cx ok)" = ${ids.length} ] && exit 0; sleep 0.5; done; echo "$s"; exit 1`);

const describeRow = (id: string) => sh(`aws ec2 describe-instances --instance-ids ${id} --query 'Reservations[0].Instances[0].[State.Name,PrivateIpAddress,NetworkInterfaces[0].MacAddress]' --output text`);

describe.skipIf(why)('a systemd host that reboots with instances running', () => {
  beforeAll(async () => {
    const modules = realpathSync(join(ROOT, 'node_modules'));
    const data = join(NODE_DIR, 'reboot-data');
    binds = [[ROOT, '/project'], [data, DATA], [dirname(tar!), '/images'], [awsPrefix, awsPrefix],
      ...(modules === join(ROOT, 'node_modules') ? [] : [[modules, modules] as [string, string]])];
    mkdirSync(data, { recursive: true });
    node = await bootNode({ binds, fresh: [data] });
    // The image, imported while no server holds the data dir.
    await sh(`/usr/local/bin/node /project/dist/src/cli/main.js image import /images/${basename(tar!)} --name debian-12 --data ${DATA}`, 300_000);
    await serve();
  }, 600_000);
  afterAll(async () => { await node?.stop(); });

  it('brings both containers back running, with their addresses and their disks, each unit once', async () => {
    const ami = await sh(`aws ec2 describe-images --filters Name=name,Values=debian-12 --query 'Images[0].ImageId' --output text`);
    // The user-data writes a value of its own once (cloud-init runs it once per instance): the same value after the
    // reboot is the same disk, and user-data not run again.
    // (The AWS CLI base64-encodes the file's text itself.)
    const ids = (await sh("printf '#!/bin/sh\\ncat /proc/sys/kernel/random/uuid > /var/tmp/pcloud-marker\\n' > /tmp/user-data && "
      + `aws ec2 run-instances --image-id ${ami} --instance-type t3.micro --count 2 --user-data file:///tmp/user-data `
      + `--query 'Instances[].InstanceId' --output text`)).split(/\s+/);
    expect(ids).toHaveLength(2);
    await waitState(ids, 'running');
    await waitStatusOk(ids);
    const marker = (id: string) => sh(`cat ${DATA}/pool/instances/${id}/var/tmp/pcloud-marker`);
    const before = await Promise.all(ids.map(async (id) => ({ row: await describeRow(id), marker: await marker(id) })));
    expect(before.map((b) => b.marker)).toEqual([expect.stringMatching(/^[0-9a-f-]{36}$/), expect.stringMatching(/^[0-9a-f-]{36}$/)]);

    // Power off (systemd in the node stops pcloud and every unit) and boot again on the same binds.
    await node.stop();
    node = await bootNode({ binds });
    expect((await node.exec(['systemctl', 'list-units', '--all', '--no-legend', 'pcloud-instance@*'])).out.trim()).toBe('');
    await serve();

    await waitState(ids, 'running');
    await waitStatusOk(ids);
    for (const [i, id] of ids.entries()) {
      expect(await describeRow(id)).toBe(before[i]!.row);
      expect(await marker(id)).toBe(before[i]!.marker);
    }
    // Each instance's unit once, active; each a machine once.
    const units = (await sh(`systemctl list-units --all --no-legend --plain 'pcloud-instance@*' | awk '{print $1, $3}'`)).split('\n').sort();
    expect(units).toEqual(ids.map((id) => `pcloud-instance@${id}.service active`).sort());
    const machines = (await sh('machinectl list --no-legend')).split('\n').filter((l) => l.includes('i-'));
    expect(machines).toHaveLength(2);
    // The server's own count: both launched again, none ended.
    expect(await sh('journalctl -u pcloud --no-pager -o cat | grep "reconciled with the host" | tail -1')).toContain('"relaunched":2');
  }, 600_000);
});
