/*
 * records.h - a hazard record with every field set, for the unit tests of
 * the log writer (test_log.c) and of the report reader (test_report.c).
 */
#ifndef LOCKSCOPE_TEST_RECORDS_H
#define LOCKSCOPE_TEST_RECORDS_H

#include <string.h>

#include "log.h"

static const char *const ut_bt2[] = { "prog+0x1234", "libc.so.6+0x2a1ca" };

/* close-drops-lock, prevented in fix, fd 5 on /tmp/x [8:1 ino 1234], a write
 * lock from 0 to EOF, two backtrace frames, a detail, no repeat count. */
static inline struct ls_record ut_record(void)
{
    struct ls_record r;
    memset(&r, 0, sizeof r);
    r.hazard = "close-drops-lock";
    r.action = "prevented";
    r.mode = "fix";
    r.prog = "prog";
    r.pid = 1234;
    r.tid = 1235;
    r.has_fd = 1;
    r.fd = 5;
    r.path = "/tmp/x";
    r.has_devino = 1;
    r.dev_major = 8;
    r.dev_minor = 1;
    r.ino = 1234;
    r.type = "write";
    r.has_range = 1;
    r.start = 0;
    r.len = 0;
    r.call = "close";
    r.site = "prog+0x1234";
    r.time_sec = 1763891234;
    r.time_usec = 12345;
    r.backtrace = ut_bt2;
    r.n_backtrace = 2;
    r.detail = "lock on fd 3 dropped";
    r.repeat = 0;
    return r;
}

#endif
