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
cat > /etc/systemd/system/pcloud-ready.service <<'UNIT'
[Unit]
Description=Tell pcloud this instance has booted
After=multi-user.target cloud-final.service
ConditionPathExists=/dev/virtio-ports/org.pcloud.ready

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo READY=1 > /dev/virtio-ports/org.pcloud.ready'

[Install]
WantedBy=multi-user.target
UNIT
systemctl enable pcloud-ready.service >/dev/null 2>&1
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
