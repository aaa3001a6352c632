/** The pcloud command itself: credentials, doctor. */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../support/real.js';

const pcloud = (args: string[], env: Record<string, string> = {}) =>
  execFileSync(process.execPath, [CLI, ...args], { env: { ...process.env, PCLOUD_ACCESS_KEY_ID: '', PCLOUD_SECRET_ACCESS_KEY: '', ...env } }).toString();

describe('pcloud credentials', () => {
  it('generates a key once, prints it for aws configure, env and Terraform, and takes one from the environment', () => {
    const data = mkdtempSync(join(tmpdir(), 'pcloud-cli-'));
    const first = pcloud(['credentials', '--data', data]);
    const id = /aws_access_key_id = (\S+)/.exec(first)![1]!;
    expect(id).toMatch(/^PCLD[A-Z2-7]{16}$/);
    expect(first).toMatch(/aws_secret_access_key = \S{40}/);
    expect(first).toContain(`export AWS_ACCESS_KEY_ID=${id}`);
    expect(first).toContain('provider "aws" {');
    expect(pcloud(['credentials', '--data', data])).toBe(first);
    // The bin itself, as `pcloud`, `npm start` and the systemd unit run it: its first line starts its node, with flags.
    expect(execFileSync(CLI, ['credentials', '--data', data], { env: { ...process.env, PCLOUD_ACCESS_KEY_ID: '', PCLOUD_SECRET_ACCESS_KEY: '' } }).toString()).toBe(first);
    const given = pcloud(['credentials', '--data', data], { PCLOUD_ACCESS_KEY_ID: 'AKIDGIVEN', PCLOUD_SECRET_ACCESS_KEY: 's3cret' });
    expect(given).toContain('aws_access_key_id = AKIDGIVEN');
    expect(given).toContain('aws_secret_access_key = s3cret');
  });
});

describe('pcloud doctor', () => {
  it('prints what the host can do and how to fix what is missing', () => {
    const out = pcloud(['doctor', '--data', mkdtempSync(join(tmpdir(), 'pcloud-doc-'))]);
    for (const name of ['systemd as PID 1', 'systemd-nspawn', 'reflink storage pool', 'KVM / TCG', 'nftables', 'nginx', 'swtpm']) {
      expect(out).toContain(name);
    }
    expect(out).toMatch(/^ ok +systemd-nspawn +systemd 252/m);
    // Whatever is missing says how to get it.
    for (const line of out.split('\n').filter((l) => l.startsWith('MISS'))) {
      const i = out.split('\n').indexOf(line);
      expect(out.split('\n')[i + 1]).toMatch(/fix: /);
    }
  });
});
