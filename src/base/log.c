#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int rmpi__log_level = RMPI_LOG_WARN;
static int log_rank = -1;
static char log_host[64];

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

void rmpi__log_set_rank(int rank)
{
    log_rank = rank;
}

void rmpi__log_emit(int level, const char *module, const char *fmt, ...)
{
    int saved_errno = errno; /* keep %m meaningful */
    char msg[1024];
    va_list ap;

    if (log_host[0] == '\0' && gethostname(log_host, sizeof(log_host) - 1) != 0)
        strcpy(log_host, "?");
    va_start(ap, fmt);
    errno = saved_errno;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* One write per line so lines of different threads do not interleave. */
    fprintf(stderr, "[%s:%d %s] %s: %s\n", log_host, log_rank, module,
            level_names[level < 0 ? 0 : level > 4 ? 4 : level], msg);
    errno = saved_errno;
}
