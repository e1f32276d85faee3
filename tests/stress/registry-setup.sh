#!/bin/sh
# registry-setup.sh CASE STRESS_FAULTS LIBRARY
# Run by tests/stress/run.sh inside `unshare -m`: private tmpfs on /dev/shm
# and /tmp (where the shim keeps its registry: /dev/shm/lockscope-UID/,
# else /tmp/lockscope-UID/, ..., else $HOME/.cache/lockscope-run/), the
# registry prepared as CASE says, then `stress_faults registry` under the
# shim (copies of the program and the library live in the private
# /dev/shm: the real /tmp is hidden by then).  Every case must still give
# one EDEADLK to a two-process cycle.
#   none                 no registry yet (control)
#   garbage-shm          1 MB of random bytes as /dev/shm's registry file
#   garbage-both         the same in /dev/shm's and /tmp's
#   symlink              /dev/shm's registry file is a symlink to /dev/zero
#   fifo                 /dev/shm's registry file is a FIFO
#   valid-magic-garbage  right magic and version, random geometry and slots
#   squat                another user (nobody) created every registry name
#                        first: /dev/shm/lockscope-UID (a 0777 directory),
#                        /tmp/lockscope-UID (a file), and the names of the
#                        old layout (lockscope-waits-v1-UID-NS[.1-.3] in both)
#   squat-symlink        nobody's symlinks at /dev/shm/lockscope-UID and
#                        /tmp/lockscope-UID to a directory nobody owns
set -e
mount -t tmpfs -o size=64m lockscope-shm /dev/shm
mkdir /dev/shm/.bin
cp "$2" /dev/shm/.bin/stress_faults
cp "$3" /dev/shm/.bin/liblockscope.so
mount -t tmpfs -o size=64m lockscope-tmp /tmp
uid=$(id -u)
ns=$(readlink /proc/self/ns/pid | tr -dc 0-9)
dir=/dev/shm/lockscope-$uid
name=$dir/reg-v2-$ns
garbage() { mkdir -p -m 700 "$(dirname "$1")"; head -c 1048576 /dev/urandom > "$1"; chmod 600 "$1"; }
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
case $1 in
  none) ;;
  garbage-shm) garbage "$name" ;;
  garbage-both) garbage "$name"; garbage "/tmp/lockscope-$uid/reg-v2-$ns" ;;
  symlink) mkdir -m 700 "$dir"; ln -s /dev/zero "$name" ;;
  fifo) mkdir -m 700 "$dir"; mkfifo -m 600 "$name" ;;
  valid-magic-garbage)
    mkdir -m 700 "$dir"
    { printf 'LSR2\002\000\000\000'; head -c 4000000 /dev/urandom; } > "$name"
    chmod 600 "$name" ;;
  squat)
    old=lockscope-waits-v1-$uid-$ns
    nobody sh -c "mkdir -m 777 /dev/shm/lockscope-$uid && touch /tmp/lockscope-$uid &&
      for d in /dev/shm /tmp; do for s in '' .1 .2 .3; do touch \$d/$old\$s; chmod 666 \$d/$old\$s; done; done"
    mkdir -m 700 /dev/shm/.home; export HOME=/dev/shm/.home ;;
  squat-symlink)
    nobody sh -c "mkdir -m 777 /tmp/evil && ln -s /tmp/evil /dev/shm/lockscope-$uid && ln -s /tmp/evil /tmp/lockscope-$uid"
    mkdir -m 700 /dev/shm/.home; export HOME=/dev/shm/.home ;;
  *) echo "unknown case $1" >&2; exit 2 ;;
esac
mkdir -p /tmp/reg
LD_PRELOAD=/dev/shm/.bin/liblockscope.so LOCKSCOPE_LOG=stderr exec /dev/shm/.bin/stress_faults registry /tmp/reg
