#include "config.h"
#include "log.h"
#include "raympi.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern char **environ;

rmpi_config_t rmpi__cfg;

typedef int (*parse_fn_t)(const char *value, void *dst, const char *const *choices);

typedef struct {
    const char        *name;
    const char        *defval;
    const char        *help;
    parse_fn_t         parse;
    size_t             offset;
    const char *const *choices; /* enum names, index = value */
} config_field_t;

static const char *const log_levels[] = {"error", "warn", "info", "debug", "trace", NULL};
static const char *const boot_methods[] = {"auto", "pmix", "mpi", "singleton", NULL};
static const char *const progress_modes[] = {"auto", "spin", "hybrid", "block", NULL};
static const char *const errh_modes[] = {"auto", "yes", "no", NULL};

int rmpi__parse_size(const char *s, uint64_t *out)
{
    char *end;
    double v;

    while (isspace((unsigned char)*s))
        s++;
    if (*s == '\0' || *s == '-')
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || !isfinite(v) || v < 0)
        return -1;
    double mult = 1;
    switch (toupper((unsigned char)*end)) {
    case 'K': mult = 1024.0; end++; break;
    case 'M': mult = 1024.0 * 1024; end++; break;
    case 'G': mult = 1024.0 * 1024 * 1024; end++; break;
    case 'T': mult = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (mult > 1 && (*end == 'i' || *end == 'I'))
        end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end != '\0')
        return -1;
    v *= mult;
    if (v > 9.0e18)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int parse_size(const char *value, void *dst, const char *const *choices)
{
    return rmpi__parse_size(value, dst);
}

static int parse_int(const char *value, void *dst, const char *const *choices)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || v < INT_MIN || v > INT_MAX)
        return -1;
    *(int *)dst = (int)v;
    return 0;
}

static int parse_double(const char *value, void *dst, const char *const *choices)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(value, &end);
    if (errno != 0 || end == value || *end != '\0' || !isfinite(v))
        return -1;
    *(double *)dst = v;
    return 0;
}

static int parse_bool(const char *value, void *dst, const char *const *choices)
{
    static const char *const yes[] = {"1", "y", "yes", "on", "true"};
    static const char *const no[] = {"0", "n", "no", "off", "false"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(value, yes[i]) == 0) {
            *(int *)dst = 1;
            return 0;
        }
        if (strcasecmp(value, no[i]) == 0) {
            *(int *)dst = 0;
            return 0;
        }
    }
    return -1;
}

static int parse_path(const char *value, void *dst, const char *const *choices)
{
    size_t n = strlen(value);
    if (n >= sizeof(((rmpi_config_t *)0)->tmpdir) || (n > 0 && value[0] != '/'))
        return -1; /* an absolute path that fits */
    memcpy(dst, value, n + 1);
    return 0;
}

static int parse_enum(const char *value, void *dst, const char *const *choices)
{
    for (int i = 0; choices[i] != NULL; i++) {
        if (strcasecmp(value, choices[i]) == 0) {
            *(int *)dst = i;
            return 0;
        }
    }
    return -1;
}

#define FIELD(n, d, h, p, f, c) {n, d, h, p, offsetof(rmpi_config_t, f), c}

static const config_field_t fields[] = {
    FIELD("RAYMPI_LOG_LEVEL", "warn",
          "log level: error, warn, info, debug or trace", parse_enum, log_level, log_levels),
    FIELD("RAYMPI_BOOT_METHOD", "auto",
          "start-up exchange: auto (MPI if the application initialised it, else PMIx, "
          "else singleton), pmix, mpi or singleton", parse_enum, boot, boot_methods),
    FIELD("RAYMPI_UCX_PROGRESS", "auto",
          "how idle threads wait: spin (busy poll, for dedicated cores), hybrid (poll "
          "with sched_yield for RAYMPI_UCX_SPIN_US, then sleep), block (sleep at once), "
          "auto (hybrid)", parse_enum, progress, progress_modes),
    FIELD("RAYMPI_UCX_SPIN_US", "-1",
          "microseconds an idle thread polls before it sleeps (-1: 50, or 10 when the "
          "node's ranks outnumber its cores; an idle executor of a rank with cores of its "
          "own does not yield for the first half unless a thread of the rank waits)",
          parse_int, spin_us, NULL),
    FIELD("RAYMPI_UCX_ERR_HANDLING", "auto",
          "UCX peer error handling (a dead rank is reported, not fatal): yes (every "
          "endpoint), no (none), auto (endpoints to other nodes only: in UCX 1.13 it "
          "rules out CMA, the zero-copy path between ranks of one node)",
          parse_enum, err_handling, errh_modes),
    FIELD("RAYMPI_STORE_CAPACITY", "0",
          "bytes of object data one rank may hold (suffixes K, M, G); 0: 30% of the "
          "node's memory divided among its ranks", parse_size, store_capacity, NULL),
    FIELD("RAYMPI_STORE_INLINE_MAX", "100K",
          "results up to this size ride in the completion message and live at the "
          "owner; larger ones stay where they were made", parse_size, inline_max, NULL),
    FIELD("RAYMPI_SCHED_NUM_CPUS", "0",
          "executor threads of a rank; 0: the cores of its allocation "
          "(SLURM_CPUS_PER_TASK, else its cpuset shared among the node's ranks)",
          parse_int, num_cpus, NULL),
    FIELD("RAYMPI_SCHED_BIND", "yes",
          "bind executor threads to the rank's cores with hwloc", parse_bool, bind, NULL),
    FIELD("RAYMPI_SCHED_BATCH", "256",
          "most task specs or completions sent to one rank in one message",
          parse_int, batch, NULL),
    FIELD("RAYMPI_SCHED_EARLY_DISPATCH", "yes",
          "send a task to its rank while its arguments are still being made; the ranks "
          "making them send them straight there (no: the owner waits for them first)",
          parse_bool, early_dispatch, NULL),
    FIELD("RAYMPI_SCHED_CALLER_RUNS", "yes",
          "a thread waiting in a get (no timeout, or one of 1 s or more) for a queued "
          "task or actor call of its own rank runs it itself: tasks whose function's "
          "recent tasks took at most 100 us, calls of actors with max_concurrency 1 whose "
          "method has finished before, has never waited in a get or wait, and took at "
          "most 100 us lately (no: executors run every call and task)",
          parse_bool, caller_runs, NULL),
    FIELD("RAYMPI_CORE_CATCH_CRASHES", "yes",
          "turn SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT inside a task into a task "
          "error "
          "instead of killing the rank", parse_bool, crash_handler, NULL),
    FIELD("RAYMPI_CORE_SHUTDOWN_TIMEOUT", "10",
          "seconds the driver waits for the other ranks at rmpi_finalize",
          parse_double, shutdown_timeout, NULL),
    FIELD("RAYMPI_CORE_TMPDIR", "",
          "absolute path under which each user's job directories go "
          "(<dir>/rmpi-<uid>/<job>); empty: $TMPDIR, else /tmp", parse_path, tmpdir, NULL),
};

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[128];

    if (lb >= sizeof(row) / sizeof(row[0]))
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = toupper((unsigned char)a[i - 1]) != toupper((unsigned char)b[j - 1]);
            size_t best = diag + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *rmpi__config_suggest(const char *name)
{
    const char *best = NULL;
    size_t best_d = 5; /* farther than this is no suggestion */

    for (size_t i = 0; i < NFIELDS; i++) {
        size_t d = edit_distance(name, fields[i].name);
        if (d < best_d) {
            best_d = d;
            best = fields[i].name;
        }
    }
    return best;
}

static void warn_unknown(void)
{
    for (char **e = environ; e != NULL && *e != NULL; e++) {
        const char *eq;
        char name[128];
        size_t n, i;

        if (strncmp(*e, "RAYMPI_", 7) != 0)
            continue;
        eq = strchr(*e, '=');
        n = eq ? (size_t)(eq - *e) : strlen(*e);
        if (n >= sizeof(name))
            n = sizeof(name) - 1;
        memcpy(name, *e, n);
        name[n] = '\0';
        for (i = 0; i < NFIELDS; i++)
            if (strcmp(fields[i].name, name) == 0)
                break;
        if (i < NFIELDS)
            continue;
        const char *s = rmpi__config_suggest(name);
        if (s != NULL)
            rmpi_warn("config", "unknown variable %s ignored (did you mean %s?)", name, s);
        else
            rmpi_warn("config", "unknown variable %s ignored (`ray-mpi info` lists them)",
                      name);
    }
}

int rmpi__config_load(char *err, size_t errlen)
{
    rmpi_config_t cfg;

    memset(&cfg, 0, sizeof(cfg));
    for (size_t i = 0; i < NFIELDS; i++) {
        const config_field_t *f = &fields[i];
        void *dst = (char *)&cfg + f->offset;
        const char *v = getenv(f->name);

        if (f->parse(f->defval, dst, f->choices) != 0)
            abort(); /* a bad default is a bug in this table */
        if (v == NULL)
            continue;
        if (f->parse(v, dst, f->choices) != 0) {
            char allowed[160] = "";
            if (f->choices != NULL) {
                strcpy(allowed, " (one of:");
                for (int c = 0; f->choices[c] != NULL; c++) {
                    strncat(allowed, " ", sizeof(allowed) - strlen(allowed) - 1);
                    strncat(allowed, f->choices[c], sizeof(allowed) - strlen(allowed) - 1);
                }
                strncat(allowed, ")", sizeof(allowed) - strlen(allowed) - 1);
            }
            snprintf(err, errlen, "invalid value '%s' for %s%s: %s", v, f->name, allowed,
                     f->help);
            return RMPI_ERR_CONFIG;
        }
    }
    if (cfg.batch < 1 || cfg.batch > 65535) {
        snprintf(err, errlen, "RAYMPI_SCHED_BATCH must be between 1 and 65535, not %d",
                 cfg.batch);
        return RMPI_ERR_CONFIG;
    }
    if (cfg.num_cpus < 0 || cfg.num_cpus > 4096) {
        snprintf(err, errlen, "RAYMPI_SCHED_NUM_CPUS must be between 0 and 4096, not %d",
                 cfg.num_cpus);
        return RMPI_ERR_CONFIG;
    }
    if (cfg.spin_us < -1) {
        snprintf(err, errlen, "RAYMPI_UCX_SPIN_US must be -1 or more, not %d", cfg.spin_us);
        return RMPI_ERR_CONFIG;
    }
    if (cfg.inline_max > (64u << 20)) {
        snprintf(err, errlen, "RAYMPI_STORE_INLINE_MAX must be at most 64M");
        return RMPI_ERR_CONFIG;
    }
    if (cfg.shutdown_timeout <= 0) {
        snprintf(err, errlen, "RAYMPI_CORE_SHUTDOWN_TIMEOUT must be positive");
        return RMPI_ERR_CONFIG;
    }
    rmpi__cfg = cfg;
    rmpi__log_level = cfg.log_level;
    warn_unknown();
    return RMPI_OK;
}

void rmpi__config_print(FILE *out)
{
    for (size_t i = 0; i < NFIELDS; i++) {
        const char *v = getenv(fields[i].name);
        fprintf(out, "%s=%s\n    default: %s%s\n    %s\n", fields[i].name,
                v ? v : fields[i].defval, fields[i].defval[0] ? fields[i].defval : "(empty)",
                v ? "  (set in environment)" : "", fields[i].help);
    }
}
