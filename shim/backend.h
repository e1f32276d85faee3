/*
 * backend.h - how an owner's locks reach the kernel.
 *
 * The rest of the shim speaks of owners and private descriptions; only
 * this interface knows which kernel mechanism carries them.  Linux (this
 * build): open-file-description locks on a private re-open of the file
 * (backend_linux.c).  A portable backend (kernels without OFD locks) and
 * macOS provide the same four names.
 */
#ifndef LOCKSCOPE_BACKEND_H
#define LOCKSCOPE_BACKEND_H

#include <fcntl.h>

/* The commands an owner's private descriptor is locked with. */
#define LS_BK_SETLK  F_OFD_SETLK
#define LS_BK_SETLKW F_OFD_SETLKW
#define LS_BK_GETLK  F_OFD_GETLK

/* A private description of fd's file with access mode acc, parked at a high
 * fd number, close-on-exec and marked as the shim's: an fd or -errno. */
int ls_private_reopen(int fd, int acc);

/* Move one of the shim's fds away from the low numbers programs expect. */
int ls_move_high(int fd);

/* The private fd `from` was moved to `to` (interpose.c evict_private). */
void ls_backend_fd_moved(int from, int to);
/* In a child (fork, or clone seen late): the backend's own fds are the
 * parent's; own_table 0: the child shares the parent's fd table. */
void ls_backend_fork_child(int own_table);

#endif
