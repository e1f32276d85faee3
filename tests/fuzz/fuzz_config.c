/*
 * fuzz_config.c - libFuzzer target for config/config.c.
 *
 * One input is used three ways:
 *   1. the whole input as a config file buffer (ls_config_parse_buffer);
 *   2. split at the first NUL or newline: the head as an open_lock rule list,
 *      the tail (up to its first NUL) as a scope rule list;
 *   3. ls_config_load with a synthetic environment: LOCKSCOPE_OPEN_LOCK=head,
 *      every line of the tail as a raw "NAME=value" entry, the whole input
 *      written to a private file that stands for /etc/lockscope.conf (or is
 *      named by LOCKSCOPE_CONFIG); the first byte chooses secure mode and
 *      whether LOCKSCOPE_CONFIG is set.
 * Every configuration is freed, so LeakSanitizer checks the frees too.  The
 * target never reads the host's configuration: HOME and XDG_CONFIG_HOME point
 * into its private directory, and raw entries cannot set them or
 * LOCKSCOPE_CONFIG.
 *
 * clang -std=c11 -D_GNU_SOURCE -g -fsanitize=fuzzer,address,undefined -Iconfig \
 *     tests/fuzz/fuzz_config.c config/config.c -o /tmp/fuzz_config
 * /tmp/fuzz_config -max_total_time=30 tests/fuzz/corpus/config
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

extern const char *ls_config_system_path;

#define MAX_ENV 32

static char dir[64];
static char conf_path[128];
static char var_config[160], var_home[160], var_xdg[160];

static void cleanup(void)
{
    unlink(conf_path);
    rmdir(dir);
}

static int init(void)
{
    if (dir[0])
        return 0;
    strcpy(dir, "/tmp/ls-fuzz-config-XXXXXX");
    if (!mkdtemp(dir)) {
        dir[0] = '\0';
        return -1;
    }
    snprintf(conf_path, sizeof conf_path, "%s/lockscope.conf", dir);
    snprintf(var_config, sizeof var_config, "LOCKSCOPE_CONFIG=%s", conf_path);
    snprintf(var_home, sizeof var_home, "HOME=%s/home", dir);
    snprintf(var_xdg, sizeof var_xdg, "XDG_CONFIG_HOME=%s/xdg", dir);
    ls_config_system_path = conf_path;
    atexit(cleanup);
    return 0;
}

static char *dup_n(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

/* Look the result up a little, as the shim would. */
static void probe(const struct ls_config *cfg, const char *path)
{
    const struct ls_open_rule *r = ls_config_match_open(cfg, path);
    volatile int sink = (int)ls_config_match_scope(cfg, path) + (r ? (int)r->kind + r->nonblock : 0);
    (void)sink;
    (void)ls_mode_name(cfg->mode);
}

static int write_all(const char *path, const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    while (size) {
        ssize_t w = write(fd, data, size);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        data += w;
        size -= (size_t)w;
    }
    return close(fd);
}

static int is_reserved(const char *e)
{
    return strncmp(e, "LOCKSCOPE_CONFIG=", 17) == 0 || strncmp(e, "HOME=", 5) == 0 ||
           strncmp(e, "XDG_CONFIG_HOME=", 16) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ls_config cfg;
    struct ls_config_env env;
    const char *envp[MAX_ENV + 1];
    char err[512];
    size_t head_n = 0, tail_start, tail_n = 0, n_env = 0;
    char *head, *tail, *open_var, *line;

    if (init() < 0)
        return 0;

    /* 1. the whole input as a config file */
    ls_config_defaults(&cfg);
    ls_config_parse_buffer(&cfg, (const char *)data, size, "fuzz.conf", err, sizeof err);
    probe(&cfg, "/tmp/x.db");
    ls_config_free(&cfg);

    /* 2. head and tail as rule lists */
    while (head_n < size && data[head_n] != '\0' && data[head_n] != '\n')
        head_n++;
    tail_start = head_n < size ? head_n + 1 : size;
    while (tail_start + tail_n < size && data[tail_start + tail_n] != '\0')
        tail_n++;
    head = dup_n(data, head_n);
    tail = dup_n(data + tail_start, tail_n);
    open_var = malloc(head_n + sizeof "LOCKSCOPE_OPEN_LOCK=");
    if (!head || !tail || !open_var)
        goto out;
    ls_config_defaults(&cfg);
    ls_config_parse_open_lock(&cfg, head, "LOCKSCOPE_OPEN_LOCK", err, sizeof err);
    ls_config_parse_scope(&cfg, tail, "LOCKSCOPE_SCOPE", err, sizeof err);
    probe(&cfg, head);
    probe(&cfg, "/var/lib/app/data.db");
    ls_config_free(&cfg);

    /* 3. a whole load */
    if (write_all(conf_path, data, size) < 0)
        goto out;
    sprintf(open_var, "LOCKSCOPE_OPEN_LOCK=%s", head);
    envp[n_env++] = var_home;
    envp[n_env++] = var_xdg;
    if (size && (data[0] & 2))
        envp[n_env++] = var_config;
    envp[n_env++] = open_var;
    for (line = tail; n_env < MAX_ENV; ) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (!is_reserved(line))
            envp[n_env++] = line;
        if (!nl)
            break;
        line = nl + 1;
    }
    envp[n_env] = NULL;
    env.envp = envp;
    env.secure = size && (data[0] & 1);
    ls_config_load(&cfg, &env, err, sizeof err);
    probe(&cfg, "/tmp/x.db");
    ls_config_free(&cfg);
out:
    free(head);
    free(tail);
    free(open_var);
    return 0;
}
