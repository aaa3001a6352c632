/**
 * Inside the systemd test host, where PID 1 is systemd and pcloud picks its systemd unit manager: the container
 * integration suite again, then the AWS CLI launching an instance that systemctl and machinectl show.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { basename, dirname, join } from 'node:path';
import { mkdirSync, realpathSync } from 'node:fs';
import { CREDS, DATA, ensureImage } from '../support/real.js';
import { UNIT_MANAGER_SCOPE } from '../support/tier.js';
import { bootNode, exportImage, NODE_DIR, ROOT, type Node } from './node.js';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
let node: Node;
let imageTar: string;
/** A worktree's node_modules may be a link to another checkout's: that one is bound at its own path too. */
const modules = realpathSync(join(ROOT, 'node_modules'));
/** The AWS CLI on this machine lives in a Python prefix of its own: bind it into the node at the same path. */
const awsBin = execFileSync('sh', ['-c', 'command -v pyenv >/dev/null && pyenv which aws || command -v aws']).toString().trim();
const awsPrefix = dirname(dirname(awsBin));

beforeAll(async () => {
  // The image as a tarball (the run's cached one, or exported from the data dir's) and a data dir no earlier run used.
  let tar = process.env.PCLOUD_TEST_IMAGE_TAR;
  if (!tar) {
    const imageId = await ensureImage();
    tar = join(NODE_DIR, 'images', `debian-12-${imageId}.tar`);
    mkdirSync(dirname(tar), { recursive: true });
    exportImage(join(DATA, 'pool/images', imageId), tar);
  }
  imageTar = `/images/${basename(tar)}`;
  const data = join(NODE_DIR, 'data');
  node = await bootNode({ binds: [[ROOT, '/project'], [data, '/var/lib/pcloud-test'], [dirname(tar), '/images'], [awsPrefix, awsPrefix],
    ...(modules === join(ROOT, 'node_modules') ? [] : [[modules, modules] as [string, string]])], fresh: [data] });
}, 900_000);
afterAll(async () => { await node?.stop(); });

describe('inside the systemd test host', () => {
  it('PID 1 is systemd', async () => {
    expect((await node.exec(['cat', '/proc/1/comm'])).out.trim()).toBe('systemd');
  });

  // The systemd manager on real systemd and dbus-daemon (the unit tests run it against a stand-in bus).
  it('a unit started is followed by what systemd pushes over the bus: each state told, its status asked there, no systemctl run', async () => {
    const script = `
      import { SystemdUnitManager } from '/project/dist/src/host/units/systemd.js';
      import { recordCommands } from '/project/dist/src/host/exec.js';
      const m = new SystemdUnitManager('/var/lib/pcloud-bus-probe');
      await m.init(['pcloud-bus-']);
      const told = [];
      const ended = new Promise((resolve) => m.onChange((s) => {
        told.push({ state: s.state, statusText: s.statusText });
        if (s.state === 'inactive' || s.state === 'failed') resolve();
      }));
      const commands = [];
      recordCommands(commands);
      const ready = 'import os, socket, time\\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\\ns.connect(os.environ["NOTIFY_SOCKET"])\\n'
        + 's.send(b"READY=1\\\\nSTATUS=up")\\ntime.sleep(1)';
      await m.start({ name: 'pcloud-bus-probe', description: 'bus probe', type: 'notify', exec: ['/usr/bin/python3', '-c', ready],
        startTimeoutSec: 10, stopTimeoutSec: 5 });
      const asked = await m.status('pcloud-bus-probe');
      await ended;
      console.log(JSON.stringify({ told, asked, commands: commands.map((c) => c.file + ' ' + c.args[0]) }));
      m.close();`;
    const res = await node.exec(['/usr/local/bin/node', '--input-type=module', '-e', script], { cwd: '/project', env: { PATH } });
    expect(res.code, res.out).toBe(0);
    const out = JSON.parse(res.out.split('\n').find((l) => l.startsWith('{'))!) as {
      told: { state: string; statusText?: string }[]; asked: { state: string }; commands: string[];
    };
    expect(res.out).toContain('unit states are pushed by systemd over the system bus');
    // Each state once in order; a change of status text alone (STATUS=up) is told too, as its own change.
    const states = out.told.map((t) => t.state).filter((st, i, all) => i === 0 || all[i - 1] !== st);
    expect(states).toEqual(['activating', 'active', 'inactive']);
    expect(out.told.some((t) => t.state === 'active' && t.statusText === 'up')).toBe(true);
    expect(['activating', 'active']).toContain(out.asked.state);
    expect(out.commands).toEqual(['systemd-run --unit=pcloud-bus-probe.service']);
  }, 60_000);

  /** One of the real suites, run inside the node by its own vitest. */
  async function suite(file: string, scope = '', env: Record<string, string> = {}) {
    const res = await node.exec(['/usr/local/bin/node', 'node_modules/vitest/vitest.mjs', 'run', file], {
      cwd: '/project',
      env: { PCLOUD_TEST_DATA: '/var/lib/pcloud-test', PCLOUD_TEST_IMAGE_TAR: imageTar, PATH, CI: process.env.CI ?? '', PCLOUD_TEST_SCOPE: scope, ...env },
    });
    console.log(res.out);
    return res;
  }
  /** What the inner run said of its failures: the assertion's message, so CI's summary names them. */
  const failures = (out: string) => out.replace(/\x1b\[[0-9;]*m/g, '').split('\n')
    .filter((l) => /^\s*(×|→|FAIL|Error:|AssertionError)/.test(l)).slice(0, 40).join('\n');

  it('the container integration suite passes under the systemd unit manager', async () => {
    // What systemd changes (units, boot, stop, kill -9 and reconcile); the network plane's tests ran on the host. Its
    // kill -9 mid-launch with a fleet of 4 (the host's run launches 10): what it proves here is the unit manager's part
    // (units outliving the server, reconciled on its start), the same for 4 as for 10, on the node's two cores.
    const res = await suite('test/integration/containers.test.ts', UNIT_MANAGER_SCOPE, { PCLOUD_TEST_FLEET: '4' });
    expect(res.out).toContain('unit manager systemd (PID 1 is systemd)');
    expect(res.code, failures(res.out)).toBe(0);
  }, 1_800_000);

  // Its hostile-handler test proves a handler reaches none of the host under systemd's sandbox (DynamicUser etc.).
  it('the Lambda suite passes with functions as systemd .socket units', async () => {
    // What systemd changes (socket units, their sandbox, scale to zero); the API's and nginx's own tests ran on the host.
    const res = await suite('test/integration/lambda.test.ts', UNIT_MANAGER_SCOPE);
    expect(res.out).toContain('functions run as systemd socket units');
    expect(res.code, failures(res.out)).toBe(0);
  }, 900_000);

  it('aws ec2 run-instances → a pcloud-instance@ unit in systemctl and a machine in machinectl; terminate removes both', async () => {
    const env = {
      PATH: `${dirname(awsBin)}:${PATH}`, AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey,
      AWS_DEFAULT_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true',
    };
    // The server as the project ships its unit (systemd/pcloud.service), settings in /etc/default/pcloud; a drop-in
    // points ExecStart at this checkout's build instead of an installed `pcloud`.
    const install = await node.exec(['sh', '-c', [
      'cp /project/systemd/pcloud.service /etc/systemd/system/pcloud.service',
      'mkdir -p /etc/systemd/system/pcloud.service.d',
      `printf '[Service]\\nExecStart=\\nExecStart=/usr/local/bin/node /project/dist/src/cli/main.js serve --no-image\\n' > /etc/systemd/system/pcloud.service.d/checkout.conf`,
      `printf 'PCLOUD_ACCESS_KEY_ID=%s\\nPCLOUD_SECRET_ACCESS_KEY=%s\\nPCLOUD_LISTEN=127.0.0.1:8773\\nPCLOUD_DATA=/var/lib/pcloud-test\\nPATH=%s\\n' "$1" "$2" "$3" > /etc/default/pcloud`,
      'systemd-analyze verify /etc/systemd/system/pcloud.service',
      'systemctl daemon-reload', 'systemctl start pcloud.service'].join(' && '), 'sh', CREDS.accessKeyId, CREDS.secretAccessKey, PATH]);
    expect(install).toMatchObject({ code: 0 });
    const aws = (args: string) => node.exec(['sh', '-c', `aws --endpoint-url http://127.0.0.1:8773 ${args}`], { env });
    try {
      // Type=notify: `systemctl start` returned once the server said READY=1, so the API answers at once, and
      // systemd shows the server's own status line.
      expect((await aws('ec2 describe-regions --output text')).code).toBe(0);
      const shown = (await node.exec(['systemctl', 'show', 'pcloud.service', '-p', 'Type', '-p', 'StatusText', '-p', 'ActiveState'])).out;
      expect(shown).toContain('Type=notify');
      expect(shown).toContain('ActiveState=active');
      expect(shown).toContain('StatusText=serving on http://127.0.0.1:8773');
      const ami = (await aws(`ec2 describe-images --filters Name=name,Values=debian-12 --query 'Images[0].ImageId' --output text`)).out.trim();
      const run = await aws(`ec2 run-instances --image-id ${ami} --instance-type t3.micro --query 'Instances[0].InstanceId' --output text`);
      expect(run.code).toBe(0);
      const id = run.out.trim();
      expect(id).toMatch(/^i-[0-9a-f]{17}$/);
      let state = '';
      for (let i = 0; i < 300 && state !== 'running'; i++) {
        await new Promise((r) => setTimeout(r, 200));
        state = (await aws(`ec2 describe-instances --instance-ids ${id} --query 'Reservations[0].Instances[0].State.Name' --output text`)).out.trim();
      }
      expect(state).toBe('running');
      expect((await node.exec(['systemctl', 'is-active', `pcloud-instance@${id}.service`])).out.trim()).toBe('active');
      expect((await node.exec(['machinectl', 'list', '--no-legend'])).out).toContain(id);
      expect((await aws(`ec2 terminate-instances --instance-ids ${id} --output text`)).code).toBe(0);
      for (let i = 0; i < 300 && state !== 'terminated'; i++) {
        await new Promise((r) => setTimeout(r, 200));
        state = (await aws(`ec2 describe-instances --instance-ids ${id} --query 'Reservations[0].Instances[0].State.Name' --output text`)).out.trim();
      }
      expect(state).toBe('terminated');
      expect((await node.exec(['machinectl', 'list', '--no-legend'])).out).not.toContain(id);
      expect((await node.exec(['systemctl', 'is-active', `pcloud-instance@${id}.service`])).out.trim()).not.toBe('active');
    } finally {
      await node.exec(['systemctl', 'stop', 'pcloud.service']);
    }
  }, 300_000);
});
