#!/bin/sh
# Runs inside the freshly debootstrapped root (chroot) once, when the image is built.
set -eu

# Every instance gets its own name and machine id (written at launch, or by cloud-init in a VM); the image has none.
echo localhost > /etc/hostname
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id

# cloud-init: the NoCloud seed pcloud writes into each fork first, EC2's metadata service next.
mkdir -p /etc/cloud/cloud.cfg.d
cat > /etc/cloud/cloud.cfg.d/90-pcloud.cfg <<'CFG'
datasource_list: [ NoCloud, Ec2, None ]
# pcloud's VMs are not AWS hardware (a microvm has no SMBIOS at all): read its metadata service all the same.
datasource:
  Ec2:
    strict_id: false
# C.UTF-8 ships with libc: nothing to generate at boot.
locale: C.UTF-8
# SSH host keys: ed25519 and ecdsa (an RSA key costs a second of a VM's boot under emulation). A container's are made by
# the host, and its seed tells cloud-init to keep them.
ssh_genkeytypes: [ed25519, ecdsa]
# The key pair's key lets root in (pcloud writes it into /root/.ssh before the boot, sshd accepts before cloud-init runs)
# and the default user "debian" once cloud-init has made it.
disable_root: false
CFG

# Containers have no hardware clock, no udev-managed disks and no swap to wait for; VMs (microvm) do.
for unit in systemd-remount-fs.service systemd-udev-trigger.service systemd-udevd.service; do
  mkdir -p "/etc/systemd/system/$unit.d"
  printf '[Unit]\nConditionVirtualization=!container\n' > "/etc/systemd/system/$unit.d/pcloud.conf"
done

# As a microvm: the cloud kernel's virtio-mmio drivers in the initrd, root on /dev/vda, and a readiness signal to the
# host on a virtio-serial port once the boot is done (pcloud turns the instance running on it).
printf 'virtio_mmio\nvirtio_blk\nvirtio_net\nvirtio_console\next4\n' >> /etc/initramfs-tools/modules
mounted=""
if [ ! -e /proc/self ]; then mount -t proc proc /proc; mounted=1; fi
update-initramfs -u -k all >/dev/null 2>&1
[ -n "$mounted" ] && umount /proc
# The pcloud guest protocol (1): the instance tells the host when it is up (READY=1 with X_PCLOUD_BOOT=initializing:
# its network configured, sshd accepting), then once whether cloud-init finished the boot (X_PCLOUD_BOOT=ok or
# impaired). In a container on a UNIX datagram socket the host binds at /run/pcloud/notify (sd_notify's format), in a
# VM on the virtio-serial port org.pcloud.ready (the same KEY=VALUE lines). Without either (plain nspawn, an older
# pcloud) nothing is sent and the boot goes on: the host then goes by PID 1's READY, as for any image.
mkdir -p /etc/pcloud /usr/lib/pcloud
echo 1 > /etc/pcloud/guest-protocol
cat > /usr/lib/pcloud/guest-notify <<'SH'
#!/bin/sh
# guest-notify KEY=VALUE...: one message to the pcloud host, if this instance has a channel to it.
if [ -S /run/pcloud/notify ]; then
  NOTIFY_SOCKET=/run/pcloud/notify exec systemd-notify --no-block "$@"
fi
# A container without the socket (plain nspawn, an older pcloud) has no other way (its --vm check sees the host's VM).
systemd-detect-virt --container --quiet && exit 0
case "$(systemd-detect-virt --vm 2>/dev/null)" in none|'') exit 0 ;; esac
port=/dev/virtio-ports/org.pcloud.ready
# udev makes the port's link early in the boot; a VM without the port (q35 goes by QEMU's state) waits no longer.
[ -e "$port" ] || udevadm wait --timeout=20 "$port" 2>/dev/null || exit 0
printf '%s\n' "$@" > "$port"
SH
cat > /usr/lib/pcloud/boot-status <<'SH'
#!/bin/sh
# boot-status [--bound]: tell the host, once per boot, how cloud-init's boot went: ok, or impaired with the reason on
# the console. With --bound (run while cloud-final runs): once the user's scripts have run for BOUND seconds and
# cloud-init has not finished, ok, saying on the console that user-data is still running.
BOUND=30
sent=/run/pcloud-boot-status
say() { ( set -C; : > "$sent" ) 2>/dev/null || exit 0; /usr/lib/pcloud/guest-notify "X_PCLOUD_BOOT=$1"; }
if [ "${1:-}" = --bound ]; then
  started=/run/pcloud-final-started
  : > "$started"
  sem=/var/lib/cloud/instance/sem/config_scripts_user
  waited=0
  while [ ! -e "$sent" ]; do
    if [ "$sem" -nt "$started" ]; then
      waited=$((waited + 1))
      if [ "$waited" -ge "$BOUND" ]; then
        echo "pcloud: user-data is still running after ${BOUND} s; the instance's status is ok (its boot is done)"
        say ok
        exit 0
      fi
    fi
    sleep 1
  done
  exit 0
fi
result=/run/cloud-init/result.json
if [ ! -e "$result" ]; then
  echo "pcloud: cloud-init did not finish this boot (no $result): the instance's status is impaired"
  say impaired
  exit 0
fi
errors=$(python3 -c 'import json, sys
for e in json.load(open(sys.argv[1]))["v1"].get("errors") or []: print(str(e)[:500])' "$result" 2>&1) || errors="$result unreadable: $errors"
if [ -n "$errors" ]; then
  echo "pcloud: cloud-init reported errors, the instance's status is impaired:"
  printf '%s\n' "$errors" | head -20 | sed 's/^/pcloud:   /'
  say impaired
else
  say ok
fi
SH
chmod 755 /usr/lib/pcloud/guest-notify /usr/lib/pcloud/boot-status
# Up: sshd accepting (Debian's ssh.service is Type=notify). Nothing waits for this unit (DefaultDependencies=no: not
# even multi-user.target), so a VM without the port holds nothing up.
cat > /etc/systemd/system/pcloud-ready.service <<'UNIT'
[Unit]
Description=Tell pcloud this instance is up
DefaultDependencies=no
After=basic.target network.target ssh.service
Conflicts=shutdown.target
Before=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/lib/pcloud/guest-notify READY=1 X_PCLOUD_BOOT=initializing

[Install]
WantedBy=multi-user.target
UNIT
cat > /etc/systemd/system/pcloud-boot-status.service <<'UNIT'
[Unit]
Description=Tell pcloud whether cloud-init finished this boot
After=multi-user.target cloud-init.target cloud-final.service pcloud-ready.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/lib/pcloud/boot-status
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
UNIT
# User-data that runs in the foreground keeps cloud-final running: the bound starts with it.
cat > /etc/systemd/system/pcloud-userdata-bound.service <<'UNIT'
[Unit]
Description=Tell pcloud the boot is done while user-data still runs
After=pcloud-ready.service

[Service]
Type=simple
ExecStart=/usr/lib/pcloud/boot-status --bound
StandardOutput=journal+console
UNIT
mkdir -p /etc/systemd/system/cloud-final.service.d
printf '[Unit]\nWants=pcloud-userdata-bound.service\n' > /etc/systemd/system/cloud-final.service.d/pcloud.conf
systemctl enable pcloud-ready.service pcloud-boot-status.service >/dev/null 2>&1

# In a container cloud-init runs once the instance is up, not before it: the host has written its identity, resolver,
# SSH host keys and authorized_keys, and configured its network (cloud-init's network config is disabled by the seed),
# so cloud-init's stages need not hold sysinit.target and sshd. Its four stages run one after the other in one Python
# process (cloud-init-stages: one interpreter start and one import of cloud-init instead of four);
# cloud-config.service and cloud-final.service stay as the points they were (done when their stage is), so units
# ordered after them still wait for it. A VM keeps Debian's units and order (its network
# config comes from cloud-init's local stage). A generator, since ordering cannot be removed by drop-ins: its early dir
# replaces the units, in a container only.
cat > /usr/lib/pcloud/cloud-init-stages <<'PY'
#!/usr/bin/python3
"""cloud-init's four stages in this one process: what `cloud-init init --local`, `cloud-init init`, `cloud-init
modules --mode=config` and `cloud-init modules --mode=final` do, one after the other, each whatever the one before it
returned (as their units run). The local stage stays: it is where cloud-init drops what it cached of the last instance
(an image made from an instance boots as a new one). The bound on user-data still running starts with the final
stage."""
import os
import subprocess
import sys

os.environ.setdefault("TZ", ":/etc/localtime")
from cloudinit.cmd import main  # noqa: E402

failed = 0
for stage in (["init", "--local"], ["init"], ["modules", "--mode=config"], ["modules", "--mode=final"]):
    if stage[-1] == "--mode=final":
        subprocess.run(["systemctl", "start", "--no-block", "pcloud-userdata-bound.service"], check=False)
    failed = main.main(["cloud-init", *stage]) or failed
sys.exit(1 if failed else 0)
PY
chmod 755 /usr/lib/pcloud/cloud-init-stages
cat > /usr/lib/systemd/system-generators/pcloud-container-boot <<'SH'
#!/bin/sh
# pcloud: in a container, cloud-init's stages once the system is up, in one process (see /usr/lib/pcloud).
case "${SYSTEMD_VIRTUALIZATION:-}" in
  container:*) ;;
  '') systemd-detect-virt --container --quiet || exit 0 ;;
  *) exit 0 ;;
esac
early=${2:?early generator dir}
ln -sf /dev/null "$early/cloud-init-local.service"
cat > "$early/cloud-init.service" <<'UNIT'
# Written by pcloud-container-boot: cloud-init's stages once the system is up (cloud-init-local.service is masked: its stage runs here).
[Unit]
Description=cloud-init: local, metadata, config and final stages
After=basic.target network.target ssh.service pcloud-ready.service

[Service]
Type=oneshot
ExecStart=/usr/lib/pcloud/cloud-init-stages
RemainAfterExit=yes
TimeoutSec=0
KillMode=process
TasksMax=infinity
StandardOutput=journal+console
UNIT
for stage in config final; do
  cat > "$early/cloud-$stage.service" <<UNIT
# Written by pcloud-container-boot: cloud-init.service runs this stage; done when it is.
[Unit]
Description=cloud-init: $stage stage (run by cloud-init.service)
Wants=cloud-init.service
After=cloud-init.service

[Service]
Type=oneshot
ExecStart=/bin/true
RemainAfterExit=yes
UNIT
done
SH
chmod 755 /usr/lib/systemd/system-generators/pcloud-container-boot
systemctl set-default multi-user.target
# A login prompt on the console, as EC2's serial console shows.
systemctl enable console-getty.service >/dev/null 2>&1 || true

# SSH host keys are made per instance (by the host for a container, at its first boot otherwise), not baked into the
# image: ed25519 and ecdsa.
rm -f /etc/ssh/ssh_host_*
printf 'HostKey /etc/ssh/ssh_host_ed25519_key\nHostKey /etc/ssh/ssh_host_ecdsa_key\n' > /etc/ssh/sshd_config.d/pcloud-host-keys.conf
cat > /etc/systemd/system/pcloud-ssh-keygen.service <<'UNIT'
[Unit]
Description=Generate SSH host keys for this instance
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'for t in ed25519 ecdsa; do rm -f /etc/ssh/ssh_host_$${t}_key /etc/ssh/ssh_host_$${t}_key.pub; ssh-keygen -q -t $$t -N "" -f /etc/ssh/ssh_host_$${t}_key; done'

[Install]
WantedBy=multi-user.target
UNIT
systemctl enable pcloud-ssh-keygen.service >/dev/null 2>&1

apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log /tmp/* /debootstrap
