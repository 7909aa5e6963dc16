/*
 * Configuration: every RAYMPI_<MODULE>_<NAME> environment variable is declared in
 * one table (name, default, help, parser) and read in one place.
 */
#ifndef RMPI_BASE_CONFIG_H
#define RMPI_BASE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { RMPI_BOOT_AUTO, RMPI_BOOT_PMIX, RMPI_BOOT_MPI, RMPI_BOOT_SINGLETON };
enum { RMPI_PROGRESS_AUTO, RMPI_PROGRESS_SPIN, RMPI_PROGRESS_HYBRID, RMPI_PROGRESS_BLOCK };
enum { RMPI_ERRH_AUTO, RMPI_ERRH_YES, RMPI_ERRH_NO };

typedef struct {
    int      log_level;        /* RAYMPI_LOG_LEVEL */
    int      boot;             /* RAYMPI_BOOT_METHOD */
    int      progress;         /* RAYMPI_UCX_PROGRESS */
    int      spin_us;          /* RAYMPI_UCX_SPIN_US, -1 = auto */
    int      err_handling;     /* RAYMPI_UCX_ERR_HANDLING: RMPI_ERRH_* */
    uint64_t store_capacity;   /* RAYMPI_STORE_CAPACITY, 0 = auto */
    uint64_t inline_max;       /* RAYMPI_STORE_INLINE_MAX */
    int      num_cpus;         /* RAYMPI_SCHED_NUM_CPUS, 0 = auto */
    int      bind;             /* RAYMPI_SCHED_BIND */
    int      batch;            /* RAYMPI_SCHED_BATCH */
    int      early_dispatch;   /* RAYMPI_SCHED_EARLY_DISPATCH */
    int      caller_runs;      /* RAYMPI_SCHED_CALLER_RUNS */
    int      crash_handler;    /* RAYMPI_CORE_CATCH_CRASHES */
    double   shutdown_timeout; /* RAYMPI_CORE_SHUTDOWN_TIMEOUT */
    char     tmpdir[160];      /* RAYMPI_CORE_TMPDIR, "" = $TMPDIR or /tmp */
} rmpi_config_t;

extern rmpi_config_t rmpi__cfg;

/*
 * Read every variable from the environment into rmpi__cfg.  Unknown RAYMPI_
 * variables warn with the nearest known name; an invalid value is an error:
 * returns RMPI_ERR_CONFIG and writes the reason to err.
 */
int rmpi__config_load(char *err, size_t errlen);

/* Print every variable with its default, current value and help. */
void rmpi__config_print(FILE *out);

/* Parse "64K", "1.5G", "100KiB", "12345" into bytes; 0 on success. */
int rmpi__parse_size(const char *s, uint64_t *out);

/* The known variable nearest to name (edit distance), or NULL when none is close. */
const char *rmpi__config_suggest(const char *name);

#endif
