#!/usr/bin/python3
"""The seccomp filter of a sandboxed Lambda handler (src/host/sandbox.ts), as the BPF program bwrap --seccomp loads.

What systemd's SystemCallFilter=@system-service SystemCallArchitectures=native RestrictNamespaces=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 LockPersonality=yes take away, as a deny list over an allowing default
(libseccomp: python3-seccomp): mounts, modules, reboot/kexec, swap, raw I/O, clocks, debugging (ptrace,
process_vm_*, perf_event_open), bpf, kernel keyrings, namespaces (unshare, setns, clone with CLONE_NEW*; clone3 answers
ENOSYS so libc falls back to clone, as systemd does), personality changes, socket families other than UNIX and IP,
and every syscall of a foreign architecture (only the native one is added: others kill the process).
Usage: sandbox-seccomp.py OUTPUT (written atomically).
"""
import errno
import os
import sys

import seccomp

DENIED = """
mount umount umount2 pivot_root chroot move_mount open_tree fsopen fsconfig fsmount fspick mount_setattr
init_module finit_module delete_module create_module query_module get_kernel_syms
reboot kexec_load kexec_file_load swapon swapoff
ioperm iopl pciconfig_iobase pciconfig_read pciconfig_write
adjtimex clock_adjtime clock_settime settimeofday stime
ptrace process_vm_readv process_vm_writev perf_event_open lookup_dcookie kcmp
bpf userfaultfd keyctl add_key request_key
unshare setns
acct quotactl quotactl_fd nfsservctl sethostname setdomainname syslog vhangup
open_by_handle_at name_to_handle_at fanotify_init
modify_ldt vm86 vm86old subpage_prot uselib ustat sysfs _sysctl afs_syscall
""".split()

# CLONE_NEWTIME, CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET
CLONE_NEW = (0x00000080, 0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
ALLOWED_FAMILIES = (1, 2, 10)  # AF_UNIX, AF_INET, AF_INET6
PER_LINUX = 0


def build() -> seccomp.SyscallFilter:
    f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in DENIED:
        try:
            f.add_rule(seccomp.ERRNO(errno.EPERM), name)
        except (RuntimeError, ValueError):
            pass  # not a syscall of this architecture
    for bit in CLONE_NEW:
        f.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, bit, bit))
    f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    # socket(domain, ...): only UNIX, IPv4 and IPv6.
    f.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.GT, max(ALLOWED_FAMILIES)))
    for family in range(0, max(ALLOWED_FAMILIES)):
        if family not in ALLOWED_FAMILIES:
            f.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.EQ, family))
    # personality(): Linux's own only (a deny list cannot also let the 0xffffffff query through: it is refused too).
    f.add_rule(seccomp.ERRNO(errno.EPERM), "personality", seccomp.Arg(0, seccomp.NE, PER_LINUX))
    return f


def main() -> None:
    out = sys.argv[1]
    tmp = f"{out}.{os.getpid()}"
    with open(tmp, "wb") as fh:
        build().export_bpf(fh)
    os.rename(tmp, out)


if __name__ == "__main__":
    main()
