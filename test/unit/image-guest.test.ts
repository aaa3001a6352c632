/**
 * The debian-12 image's guest side of the pcloud guest protocol, taken from its recipe (images/debian-12/setup.sh,
 * which writes them with heredocs) and run on this host: the generator that moves cloud-init after the system is up in
 * a container only, and boot-status, which tells the host once whether cloud-init finished (run in a mount namespace
 * of its own, with /run a tmpfs there: the host's /run is untouched), reading cloud-init's result as cloud-init writes
 * it. The image as a whole boots in the real suites (containers, metadata, vm).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const setup = readFileSync(join(__dirname, '../../images/debian-12/setup.sh'), 'utf8');

/** The file a `cat > PATH <<'TAG'` heredoc of the recipe writes. */
function written(path: string): string {
  const start = setup.indexOf(`cat > ${path} <<'`);
  if (start < 0) throw new Error(`setup.sh writes no ${path}`);
  const tag = /<<'(\w+)'\n/.exec(setup.slice(start))!;
  const body = start + tag.index + tag[0].length;
  return setup.slice(body, setup.indexOf(`\n${tag[1]}\n`, body) + 1);
}

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'pcloud-image-guest-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('the recipe', () => {
  it('is valid sh, its Python valid, and marks the image as speaking the protocol', () => {
    execFileSync('sh', ['-n'], { input: setup });
    for (const f of ['/usr/lib/pcloud/guest-notify', '/usr/lib/pcloud/boot-status', '/usr/lib/systemd/system-generators/pcloud-container-boot']) {
      execFileSync('sh', ['-n'], { input: written(f) });
    }
    writeFileSync(join(dir, 'stages.py'), written('/usr/lib/pcloud/cloud-init-stages'));
    execFileSync('python3', ['-m', 'py_compile', join(dir, 'stages.py')]);
    expect(setup).toContain('echo 1 > /etc/pcloud/guest-protocol');
  });
});

describe('pcloud-container-boot (generator)', () => {
  const gen = () => {
    const file = join(dir, 'gen');
    writeFileSync(file, written('/usr/lib/systemd/system-generators/pcloud-container-boot'));
    chmodSync(file, 0o755);
    return file;
  };
  const units = (virt: string) => {
    const out = join(dir, virt.replace(/\W/g, '-'));
    for (const d of ['normal', 'early', 'late']) execFileSync('mkdir', ['-p', join(out, d)]);
    execFileSync(gen(), [join(out, 'normal'), join(out, 'early'), join(out, 'late')], { env: { ...process.env, SYSTEMD_VIRTUALIZATION: virt } });
    return join(out, 'early');
  };

  it('in a container: no local stage, the other stages after sshd in one process, config and final as points after it', () => {
    const early = units('container:systemd-nspawn');
    expect(readdirSync(early).sort()).toEqual(['cloud-config.service', 'cloud-final.service', 'cloud-init-local.service', 'cloud-init.service']);
    expect(readlinkSync(join(early, 'cloud-init-local.service'))).toBe('/dev/null');
    const init = readFileSync(join(early, 'cloud-init.service'), 'utf8');
    expect(init).toMatch(/^After=.*\bssh\.service\b/m);
    expect(init).toContain('ExecStart=/usr/lib/pcloud/cloud-init-stages');
    expect(init).not.toMatch(/^Before=/m); // nothing of the boot waits for it (Debian's is before sysinit.target and sshd)
    expect(init).not.toMatch(/DefaultDependencies=no/);
    for (const stage of ['config', 'final']) {
      const unit = readFileSync(join(early, `cloud-${stage}.service`), 'utf8');
      expect(unit).toMatch(/^After=cloud-init\.service$/m);
      expect(unit).toContain('ExecStart=/bin/true');
    }
  });

  it('in a VM: Debian\'s units stay', () => {
    expect(readdirSync(units('vm:kvm'))).toEqual([]);
  });
});

// A mount namespace of its own needs root (as the real suites do).
describe.skipIf(process.getuid?.() !== 0)('boot-status', () => {
  /** Run boot-status (args) in a mount namespace whose /run is a tmpfs holding `files` and the host's socket; returns what the host got and the console. */
  function bootStatus(files: Record<string, string>, args: string[] = [], times = 1): { sent: string[]; console: string } {
    const lib = join(dir, 'lib');
    execFileSync('mkdir', ['-p', lib]);
    for (const f of ['guest-notify', 'boot-status']) {
      writeFileSync(join(lib, f), written(`/usr/lib/pcloud/${f}`).replaceAll('/usr/lib/pcloud/', `${lib}/`));
      chmodSync(join(lib, f), 0o755);
    }
    const put = Object.entries(files).map(([p, body]) => `mkdir -p "$(dirname ${p})"; printf '%s' '${body.replaceAll("'", "'\\''")}' > ${p}`).join('\n');
    const script = `set -e
mount -t tmpfs tmpfs /run
mkdir -p /run/pcloud
${put}
python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind("/run/pcloud/notify"); os.chmod("/run/pcloud/notify", 0o666)
open("/run/listening", "w").close()
with open("/run/received", "a") as out:
    while True:
        m = s.recv(4096)
        if m != b"BARRIER=1": out.write(m.decode().replace("\\n", " ") + "\\n"); out.flush()
' &
while [ ! -e /run/listening ]; do sleep 0.05; done
for i in $(seq ${times}); do ${lib}/boot-status ${args.join(' ')}; done
sleep 0.2
kill $!
echo ---sent---
cat /run/received 2>/dev/null || true
`;
    const res = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { encoding: 'utf8' });
    expect(res.status, res.stderr).toBe(0);
    const [console, sent] = res.stdout.split('---sent---\n');
    return { sent: sent!.split('\n').filter(Boolean), console: console! };
  }
  const result = (errors: string[]) => JSON.stringify({ v1: { datasource: 'DataSourceNoCloudNet', errors } }, null, 1);

  it('says ok once when cloud-init finished without errors, however often it runs', () => {
    const r = bootStatus({ '/run/cloud-init/result.json': result([]) }, [], 2);
    expect(r.sent).toEqual(['X_PCLOUD_BOOT=ok']);
    expect(r.console).toBe('');
  });

  it('says impaired when cloud-init reported errors, with them on the console', () => {
    const r = bootStatus({ '/run/cloud-init/result.json': result(["('scripts_user', RuntimeError('Runparts: 1 failures in 1 attempted commands'))"]) });
    expect(r.sent).toEqual(['X_PCLOUD_BOOT=impaired']);
    expect(r.console).toContain('cloud-init reported errors');
    expect(r.console).toContain('Runparts: 1 failures');
  });

  it('says impaired when cloud-init left no result, or one it cannot read', () => {
    expect(bootStatus({}).sent).toEqual(['X_PCLOUD_BOOT=impaired']);
    expect(bootStatus({}).console).toContain('cloud-init did not finish');
    const r = bootStatus({ '/run/cloud-init/result.json': '{"v1": ' });
    expect(r.sent).toEqual(['X_PCLOUD_BOOT=impaired']);
    expect(r.console).toContain('unreadable');
  });

  it('with --bound, says nothing once the status was told (the bound ends with it)', () => {
    const r = bootStatus({ '/run/pcloud-boot-status': '' }, ['--bound']);
    expect(r.sent).toEqual([]);
  });
});
