#!/bin/sh
# registry-space.sh CASE BINDIR LIBRARY STAGING
# Run by tests/stress/run.sh inside `unshare -m -p -f --mount-proc` (a
# registry of its own): /dev/shm a small tmpfs that another program has
# nearly filled, /tmp a private tmpfs.  The registry file is sparse; a store
# into (or a read of) a page tmpfs cannot back is a SIGBUS, so the shim
# allocates the header and wait slots when it creates or maps the file
# (no room: the next location) and a region's pages when it claims one (no
# room: no region, the process's locks are found through /proc).  STAGING:
# an empty directory (in run.sh's temporary one) where the private /tmp is
# made, the programs and the library copied in, before it is moved on /tmp.
#   full     1 page free: the registry goes to /tmp
#   region   70 pages free: the header and wait slots fit (57 pages), a
#            region (33) does not: the registry stays in /dev/shm, no region
# Prints "ok - X" / "not ok - X"; exit 1 if any failed.
case $1 in
  full) size=64k; fill=15 ;;
  region) size=400k; fill=30 ;;
  *) echo "unknown case $1" >&2; exit 2 ;;
esac
mount -t tmpfs -o size=$size lockscope-shm /dev/shm || exit 3
dd if=/dev/zero of=/dev/shm/other-program bs=4k count=$fill 2>/dev/null
mount -t tmpfs -o size=64m lockscope-tmp "$4" || exit 3
mkdir "$4/bin" && cp "$2/stress_regspace" "$2/stress_faults" "$3" "$4/bin/" || exit 3
mount --move "$4" /tmp || exit 3
set -- "$1" /tmp/bin /tmp/bin/$(basename "$3")
mkdir /tmp/a /tmp/reg
uid=$(id -u)
fail=0
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; fail=1; }

LD_PRELOAD=$3 LOCKSCOPE_DEBUG=1 LOCKSCOPE_LOG=stderr "$2/stress_regspace" /tmp/a 40 2>/tmp/err.1
rc=$?
[ $rc -gt 128 ] && notok "40 locks under the shim: no crash (killed by signal $((rc - 128)))"
[ $rc = 0 ] || fail=1
LD_PRELOAD=$3 LOCKSCOPE_DEBUG=1 LOCKSCOPE_LOG=stderr "$2/stress_faults" registry /tmp/reg 2>/tmp/err.2
rc=$?
[ $rc -gt 128 ] && notok "cross-process waits: no crash (killed by signal $((rc - 128)))"
[ $rc = 0 ] || fail=1
shmreg=$(ls /dev/shm/lockscope-$uid/ 2>/dev/null | grep -c '^reg-')
tmpreg=$(ls /tmp/lockscope-$uid/ 2>/dev/null | grep -c '^reg-')
case $1 in
  full)
    if [ "$shmreg" = 0 ] && [ "$tmpreg" = 1 ]; then ok "no room in /dev/shm: the registry is in /tmp"
    else notok "no room in /dev/shm: the registry is in /tmp ($shmreg in /dev/shm, $tmpreg in /tmp)"; fi
    if grep -q 'no room for the registry' /tmp/err.1; then ok "a debug line says /dev/shm had no room"
    else notok "a debug line says /dev/shm had no room"; fi ;;
  region)
    if [ "$shmreg" = 1 ]; then ok "room for the header and wait slots: the registry is in /dev/shm"
    else notok "room for the header and wait slots: the registry is in /dev/shm ($shmreg there, $tmpreg in /tmp)"; fi
    if grep -q "no room in the registry's file system for this process's region" /tmp/err.1; then
        ok "no room for a region: a debug line says the locks are not published"
    else notok "no room for a region: a debug line says the locks are not published"; fi ;;
esac
[ $fail = 0 ] || { grep -v 'scope of' /tmp/err.1 | head -5 | sed 's/^/# stderr: /'; }
exit $fail
