#!/bin/sh
# registry-setup.sh CASE STRESS_FAULTS LIBRARY
# Run by tests/stress/run.sh inside `unshare -m`: private tmpfs on /dev/shm
# and /tmp (where the shim keeps its cross-process waiter registry), the
# registry file prepared as CASE says, then `stress_faults registry` under
# the shim (copies of the program and the library live in the private
# /dev/shm: the real /tmp is hidden by then).
#   none                 no registry yet (control)
#   garbage-shm          1 MB of random bytes in /dev/shm's registry file
#   garbage-both         the same in /dev/shm's and /tmp's
#   symlink              /dev/shm's is a symlink to /dev/zero
#   fifo                 /dev/shm's is a FIFO
#   valid-magic-garbage  right magic and version, random slots, lock word
#                        held by tid 1 (alive, never releases it)
set -e
mount -t tmpfs -o size=16m lockscope-shm /dev/shm
mkdir /dev/shm/.bin
cp "$2" /dev/shm/.bin/stress_faults
cp "$3" /dev/shm/.bin/liblockscope.so
mount -t tmpfs -o size=8m lockscope-tmp /tmp
name=lockscope-waits-v1-$(id -u)-$(readlink /proc/self/ns/pid | tr -dc 0-9)
garbage() { head -c 1048576 /dev/urandom > "$1"; chmod 600 "$1"; }
case $1 in
  none) ;;
  garbage-shm) garbage "/dev/shm/$name" ;;
  garbage-both) garbage "/dev/shm/$name"; garbage "/tmp/$name" ;;
  symlink) ln -s /dev/zero "/dev/shm/$name" ;;
  fifo) mkfifo "/dev/shm/$name" ;;
  valid-magic-garbage)
    # struct reg: magic, version, lock (futex word: owner tid), hiwater, seq,
    # 11 pad words, then 4096 slots of 48 bytes
    { printf '1WSL\001\000\000\000\001\000\000\000\000\020\000\000\005\000\000\000'
      head -c 44 /dev/zero
      head -c $((4096 * 48)) /dev/urandom; } > "/dev/shm/$name"
    chmod 600 "/dev/shm/$name" ;;
  *) echo "unknown case $1" >&2; exit 2 ;;
esac
mkdir -p /tmp/reg
LD_PRELOAD=/dev/shm/.bin/liblockscope.so LOCKSCOPE_LOG=stderr exec /dev/shm/.bin/stress_faults registry /tmp/reg
