/*
 * holder.h - who holds a lock, and who waits: the cross-process view.
 *
 * OFD locks carry no pid (the kernel reports -1).  Holders are found in
 * the registry shared by the user's processes under the shim (registry.h:
 * they publish what they hold), else in /proc/PID/fdinfo/FD "lock:" lines;
 * waiters publish themselves in the same registry, which is how a cycle
 * between processes is detected (the kernel detects none for OFD locks).
 *
 * Both functions are called WITHOUT g_mu held and with signals in the
 * program's state; they may block briefly on the registry's own lock.  They
 * never call malloc or stdio (they may be reached from a signal handler).
 */
#ifndef LOCKSCOPE_HOLDER_H
#define LOCKSCOPE_HOLDER_H

#include <stdint.h>
#include <sys/types.h>

/* Up to `max` distinct pids of processes with an fd through which a lock
 * conflicting with `type` (0 read, 1 write) on [start, end] of (dev, ino) is
 * held (OFD or POSIX).  `self_skip_fd` (or -1): an fd of the calling process
 * whose locks do not count (the requester's own private description).
 * Returns the number found (0 if none), never more than max. */
int ls_find_holders(dev_t dev, ino_t ino, int64_t start, int64_t end, int type,
                    int self_skip_fd, pid_t *pids, int max);

/* The holder F_GETLK names: one pid (not this process's) of a process
 * holding a lock conflicting with `type` on [start, end] of (dev, ino), or 0.
 * The registry first (processes under the shim publish what they hold);
 * else the /proc scan, bounded (SCAN_CAP processes) and its answer kept
 * 0.2 s per (dev, ino, range, type), so a program repeating the query does
 * not repeat the scan. */
pid_t ls_find_holder(dev_t dev, ino_t ino, int64_t start, int64_t end, int type, int self_skip_fd);

/* Publish "thread tid of this process waits for (dev, ino, [start,end], type)"
 * unless that would close a wait-for cycle between processes, in which case
 * return -EDEADLK and publish nothing.  On success returns 0 and a slot
 * number in *slot for ls_xwait_end.  Returns 0 with *slot = -1 when the
 * registry is unavailable (then no cross-process detection happens). */
int ls_xwait_begin(dev_t dev, ino_t ino, int64_t start, int64_t end, int type,
                   int self_skip_fd, int *slot);
void ls_xwait_end(int slot);

/* In a forked child: forget registry slots of the parent (no syscalls). */
void ls_xwait_fork_child(void);

#endif
