/*
 * ls.h - `lockscope ls [PATH...] [--json] [--wait[=SECONDS]]`: every file
 * lock on the machine (or on PATHs), who holds it through which of its own
 * descriptors, and who waits for it: wait chains, cycles marked.
 */
#ifndef LOCKSCOPE_LS_H
#define LOCKSCOPE_LS_H

/* argv[0] is "ls".  Exit status: 0 success, 1 /proc/locks or a PATH could
 * not be read, 2 usage error. */
int lockscope_ls_main(int argc, char **argv);

#endif
