#!/bin/sh
# Runs inside the freshly debootstrapped root (chroot) once, when the image is built.
set -eu

# Every instance gets its own machine id (written at launch); the image has none.
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id

# cloud-init: the NoCloud seed pcloud writes into each fork first, EC2's metadata service next.
mkdir -p /etc/cloud/cloud.cfg.d
cat > /etc/cloud/cloud.cfg.d/90-pcloud.cfg <<'CFG'
datasource_list: [ NoCloud, Ec2, None ]
# C.UTF-8 ships with libc: nothing to generate at boot.
locale: C.UTF-8
CFG

# Containers have no hardware clock, no udev-managed disks and no swap to wait for.
systemctl mask systemd-remount-fs.service systemd-udev-trigger.service systemd-udevd.service >/dev/null 2>&1 || true
systemctl set-default multi-user.target
# A login prompt on the console, as EC2's serial console shows.
systemctl enable console-getty.service >/dev/null 2>&1 || true

# SSH host keys are made per instance on first boot, not baked into the image.
rm -f /etc/ssh/ssh_host_*
cat > /etc/systemd/system/pcloud-ssh-keygen.service <<'UNIT'
[Unit]
Description=Generate SSH host keys for this instance
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
UNIT
systemctl enable pcloud-ssh-keygen.service >/dev/null 2>&1

apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log /tmp/* /debootstrap
