/*
 * ray-mpi - run an application under the ray-mpi runtime on every rank of a job
 * step, and tell what the runtime would find on this node.
 *
 *   srun --mpi=pmix [srun options] ray-mpi [options] APP [ARGS...]
 *   ray-mpi info [--short]
 *
 * APP is either a shared object built against raympi.h (loaded here with
 * RTLD_NOW | RTLD_GLOBAL, so its RMPI_REMOTE constructors register its
 * functions, then its rmpi_main or main is called) or an executable linked with
 * libraympi (exec'd, so its own main runs).  Either way the exit status is the
 * application's.  See doc/ray-mpi.1.
 *
 * This program links the runtime's internal library only to print what it would
 * compute (configuration table, cpuset); it never starts the runtime itself.  A
 * shared-object application brings its own libraympi.so, which is the copy that
 * runs.
 */
#include "config.h"
#include "raympi.h"
#include "base/config.h"
#include "sched/sched.h"

#include <ctype.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <hwloc.h>
#include <limits.h>
#include <link.h>
#include <mpi.h>
#include <pmix.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ucp/api/ucp.h>
#include <uct/api/uct.h>
#include <unistd.h>

/* Exit statuses of ray-mpi itself (an application's own status passes through). */
enum {
    EXIT_USAGE      = 2,   /* wrong command line */
    EXIT_CANNOT_RUN = 126, /* found, but not runnable: not executable, not loadable, no entry */
    EXIT_NOT_FOUND  = 127  /* no such program or file */
};

enum { MODE_AUTO, MODE_LOAD, MODE_EXEC };

static int verbose;

/* ------------------------------------------------------------------------------
 * Where this process runs: rank, size, host, from the launcher's environment
 * ------------------------------------------------------------------------------ */

/* The rank the launcher gave this process, or -1; *from names the variable. */
static int env_rank(const char **from)
{
    static const char *const vars[] = {"SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMIX_RANK",
                                       "PMI_RANK", NULL};
    for (int i = 0; vars[i] != NULL; i++) {
        const char *v = getenv(vars[i]);
        if (v != NULL && isdigit((unsigned char)v[0])) {
            if (from != NULL)
                *from = vars[i];
            return atoi(v);
        }
    }
    return -1;
}

/* Tasks in the job step (srun, mpirun), or 0 when not told. */
static int env_size(void)
{
    static const char *const vars[] = {"SLURM_STEP_NUM_TASKS", "OMPI_COMM_WORLD_SIZE",
                                       "PMI_SIZE", NULL};
    for (int i = 0; vars[i] != NULL; i++) {
        const char *v = getenv(vars[i]);
        if (v != NULL && atoi(v) > 0)
            return atoi(v);
    }
    return 0;
}

static const char *hostname(void)
{
    static char host[256];
    if (host[0] == '\0' && gethostname(host, sizeof(host) - 1) != 0)
        strcpy(host, "?");
    return host;
}

/* "ray-mpi: ..." alone, "ray-mpi[3@node7]: ..." as one task of a step. */
static void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void msg(const char *fmt, ...)
{
    char line[2048];
    int n, rank = env_rank(NULL);
    va_list ap;

    if (rank >= 0 && env_size() > 1)
        n = snprintf(line, sizeof(line), "ray-mpi[%d@%s]: ", rank, hostname());
    else
        n = snprintf(line, sizeof(line), "ray-mpi: ");
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line); /* one line, one write: ranks do not interleave */
}

/* ------------------------------------------------------------------------------
 * Usage
 * ------------------------------------------------------------------------------ */

static void usage(FILE *out)
{
    fprintf(out,
"Usage: srun --mpi=pmix [srun options] ray-mpi [options] APP [ARGS...]\n"
"       mpirun -n N ray-mpi [options] APP [ARGS...]\n"
"       ray-mpi [options] APP [ARGS...]          (one process, local threads)\n"
"       ray-mpi [options] info [--short]\n"
"\n"
"Runs APP under the ray-mpi runtime on every rank of the job step.  APP is\n"
"  - a shared object built against raympi.h (e.g. mpicc -shared -fPIC app.c\n"
"    -o app.so -lraympi): it is loaded, its RMPI_REMOTE functions register\n"
"    themselves, then its rmpi_main (or main) runs with ARGS; or\n"
"  - an executable linked with libraympi: it is executed, its main runs.\n"
"A name without '/' is looked up in PATH, then in the current directory.\n"
"Rank 0 runs the driver; the exit status is APP's.\n"
"\n"
"Options (before APP; '--' ends them):\n"
"  -c, --cpus N       executor threads per rank (sets RAYMPI_SCHED_NUM_CPUS;\n"
"                     default: SLURM_CPUS_PER_TASK, else the rank's cpuset\n"
"                     shared among the node's ranks)\n"
"  -l, --log LEVEL    log level: error, warn, info, debug, trace\n"
"                     (sets RAYMPI_LOG_LEVEL)\n"
"      --load         treat APP as a shared object (dlopen), whatever it looks like\n"
"      --exec         treat APP as an executable (exec)\n"
"  -v, --verbose      say what is run, how, and with which settings (stderr)\n"
"  -h, --help         this text\n"
"  -V, --version      the version\n"
"\n"
"Subcommands:\n"
"  info               version, build features, UCX transports of this node, the\n"
"                     rank's resources as the runtime would compute them, and\n"
"                     every RAYMPI_ variable with its default and meaning;\n"
"                     under srun each task prints its block prefixed 'RANK: '\n"
"  info --short       one line per rank: rank, host, cpus, cpuset, gpus\n"
"(An application named 'info': ray-mpi -- info, or ray-mpi ./info.)\n"
"\n"
"Exit status: APP's status; 2 wrong usage; 126 APP found but cannot be run or\n"
"loaded; 127 APP not found.  Under srun, use --mpi=pmix: without it the ranks\n"
"cannot find each other.  See ray-mpi(1) and doc/running-on-slurm.md.\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    char text[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    msg("%s", text);
    fprintf(stderr, "Try 'ray-mpi --help'.\n");
    return EXIT_USAGE;
}

/* ------------------------------------------------------------------------------
 * Finding APP and telling a shared object from an executable
 * ------------------------------------------------------------------------------ */

/* A regular file named name in dir? */
static int file_in(const char *dir, const char *name, char *out, size_t len, int want_exec)
{
    struct stat st;

    if (snprintf(out, len, "%s/%s", dir[0] ? dir : ".", name) >= (int)len)
        return 0;
    if (stat(out, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    return !want_exec || access(out, X_OK) == 0;
}

/*
 * The path APP names: as given when it holds a '/', else the first executable
 * of that name in PATH, else a file of that name in the current directory
 * (returned as "./name", so dlopen does not search the library path).
 */
static int resolve(const char *app, char *out, size_t len)
{
    if (strchr(app, '/') != NULL) {
        if (snprintf(out, len, "%s", app) >= (int)len) {
            msg("%s: path too long", app);
            return EXIT_NOT_FOUND;
        }
        if (access(out, F_OK) != 0) {
            msg("%s: not found (%s)", app, strerror(errno));
            return EXIT_NOT_FOUND;
        }
        return 0;
    }
    const char *path = getenv("PATH");
    if (path != NULL) {
        char *copy = strdup(path), *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d != NULL; d = strtok_r(NULL, ":", &save)) {
            if (file_in(d, app, out, len, 1)) {
                free(copy);
                return 0;
            }
        }
        free(copy);
    }
    if (file_in(".", app, out, len, 0))
        return 0;
    msg("%s: not found (looked in PATH and in the current directory %s)", app,
        getcwd(out, len) ? out : ".");
    return EXIT_NOT_FOUND;
}

/*
 * Is path a shared object to load (1) or something to execute (0)?  ELF files of
 * type ET_DYN are shared objects unless they have a program interpreter or the
 * PIE flag (position-independent executables are ET_DYN too).  Anything else
 * (ET_EXEC, scripts) is executed.  *what describes it for -v and errors.
 */
static int is_shared_object(const char *path, const char **what)
{
    unsigned char ident[EI_NIDENT];
    Elf64_Ehdr eh;
    int fd, shared = 0;

    *what = "file";
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    if (pread(fd, ident, sizeof(ident), 0) != (ssize_t)sizeof(ident) ||
        memcmp(ident, ELFMAG, SELFMAG) != 0) {
        *what = ident[0] == '#' && ident[1] == '!' ? "script" : "non-ELF file";
        close(fd);
        return 0;
    }
    if (ident[EI_CLASS] != ELFCLASS64 || pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh)) {
        *what = "ELF file of another class";
        close(fd);
        return 0;
    }
    if (eh.e_type == ET_EXEC) {
        *what = "executable";
        close(fd);
        return 0;
    }
    if (eh.e_type != ET_DYN) {
        *what = eh.e_type == ET_REL ? "object file (.o), not linked" : "ELF file";
        close(fd);
        return 0;
    }
    shared = 1;
    *what = "shared object";
    for (unsigned i = 0; i < eh.e_phnum && shared; i++) {
        Elf64_Phdr ph;
        if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) !=
            (ssize_t)sizeof(ph))
            break;
        if (ph.p_type == PT_INTERP) {
            shared = 0;
            *what = "position-independent executable";
        } else if (ph.p_type == PT_DYNAMIC) {
            for (uint64_t off = 0; off + sizeof(Elf64_Dyn) <= ph.p_filesz; off += sizeof(Elf64_Dyn)) {
                Elf64_Dyn dyn;
                if (pread(fd, &dyn, sizeof(dyn), (off_t)(ph.p_offset + off)) != (ssize_t)sizeof(dyn) ||
                    dyn.d_tag == DT_NULL)
                    break;
                if (dyn.d_tag == DT_FLAGS_1 && (dyn.d_un.d_val & DF_1_PIE)) {
                    shared = 0;
                    *what = "position-independent executable";
                }
            }
        }
    }
    close(fd);
    return shared;
}

/* ------------------------------------------------------------------------------
 * Running APP
 * ------------------------------------------------------------------------------ */

typedef int (*entry_fn_t)(int, char **);

/* Is sym defined in the object of handle h itself (not in one of its libraries)? */
static int defined_in(void *h, void *sym)
{
    struct link_map *lm = NULL, *owner = NULL;
    Dl_info info;

    if (dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || lm == NULL)
        return 1; /* cannot tell: trust dlsym */
    if (dladdr1(sym, &info, (void **)&owner, RTLD_DL_LINKMAP) == 0 || owner == NULL)
        return 1;
    return owner == lm;
}

/*
 * Make libraympi global, for a shared object that calls rmpi_* without having
 * been linked with -lraympi: the library path first, then the installed libdir,
 * then next to this program (a build tree's .libs, an install's ../lib).
 */
static const char *load_libraympi(char *where, size_t len)
{
    static const char soname[] = "libraympi.so.0";
    char exe[PATH_MAX], dir[PATH_MAX];
    ssize_t n;

    if (dlopen(soname, RTLD_NOW | RTLD_GLOBAL) != NULL) {
        snprintf(where, len, "%s (library path)", soname);
        return where;
    }
#ifdef RMPI_LIBDIR
    snprintf(where, len, "%s/%s", RMPI_LIBDIR, soname);
    if (dlopen(where, RTLD_NOW | RTLD_GLOBAL) != NULL)
        return where;
#endif
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        snprintf(dir, sizeof(dir), "%s", exe);
        char *slash = strrchr(dir, '/');
        if (slash != NULL)
            *slash = '\0';
        static const char *const rel[] = {".libs", "../lib", "../lib64", NULL};
        for (int i = 0; rel[i] != NULL; i++) {
            if (snprintf(where, len, "%s/%s/%s", dir, rel[i], soname) >= (int)len)
                continue;
            if (dlopen(where, RTLD_NOW | RTLD_GLOBAL) != NULL)
                return where;
        }
    }
    return NULL;
}

static int run_shared(const char *path, const char *what, int argc, char **argv)
{
    void *h;
    const char *err;

    if (access(path, R_OK) != 0) {
        msg("%s: cannot read it (%s)", argv[0], strerror(errno));
        return EXIT_CANNOT_RUN;
    }
    if (verbose)
        msg("loading %s %s (dlopen, RTLD_NOW | RTLD_GLOBAL)", what, path);
    dlerror();
    h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (h == NULL) {
        char where[PATH_MAX + 64];
        err = dlerror();
        if (err != NULL && strstr(err, "undefined symbol: rmpi_") != NULL &&
            load_libraympi(where, sizeof(where)) != NULL) {
            if (verbose)
                msg("%s was not linked with libraympi: loaded %s first", argv[0], where);
            dlerror();
            h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
            err = h == NULL ? dlerror() : NULL;
        }
    }
    if (h == NULL) {
        msg("cannot load %s: %s", argv[0], err ? err : "unknown dlopen error");
        if (err != NULL && strstr(err, "undefined symbol: rmpi_") != NULL)
            fprintf(stderr, "  (link the shared object with -lraympi, "
                            "e.g. mpicc -shared -fPIC app.c -o app.so $(pkg-config --libs raympi))\n");
        else if (err != NULL && strstr(err, "libraympi") != NULL)
            fprintf(stderr, "  (libraympi is not on the library path of this node: "
                            "set LD_LIBRARY_PATH, or link the app with -Wl,-rpath)\n");
        return EXIT_CANNOT_RUN;
    }

    static const char *const entries[] = {"rmpi_main", "main", NULL};
    entry_fn_t fn = NULL;
    const char *name = NULL;
    for (int i = 0; entries[i] != NULL && fn == NULL; i++) {
        void *sym = dlsym(h, entries[i]);
        if (sym != NULL && defined_in(h, sym)) {
            fn = (entry_fn_t)sym; /* POSIX: object pointers from dlsym convert */
            name = entries[i];
        }
    }
    if (fn == NULL) {
        msg("%s: no entry point: the shared object defines neither 'rmpi_main' nor 'main' "
            "(looked for rmpi_main, then main; both are int f(int argc, char **argv), "
            "exported with default visibility)", argv[0]);
        return EXIT_CANNOT_RUN;
    }
    if (verbose)
        msg("calling %s() of %s with %d argument%s", name, path, argc - 1, argc == 2 ? "" : "s");
    /* The application may parse its arguments with getopt, whose state it shares
     * with this program: start it afresh (glibc re-reads the ordering mode of the
     * application's optstring only when optind is 0). */
#ifdef __GLIBC__
    optind = 0;
#else
    optind = 1;
#endif
    opterr = 1;
    optopt = 0;
    optarg = NULL;
    int rc = fn(argc, argv);
    fflush(NULL);
    if (verbose)
        msg("%s() returned %d", name, rc);
    return rc & 0xff;
}

static int run_exec(const char *path, const char *what, char **argv)
{
    if (access(path, X_OK) != 0) {
        int e = errno;
        msg("%s: cannot execute it: %s%s", argv[0], strerror(e),
            e == EACCES ? " (no execute permission; chmod +x it, or if it is a shared object "
                          "give --load)" : "");
        return EXIT_CANNOT_RUN;
    }
    if (verbose)
        msg("executing %s %s", what, path);
    fflush(NULL);
    execv(path, argv);
    int e = errno;
    msg("cannot execute %s (%s): %s%s", argv[0], what, strerror(e),
        e == ENOEXEC ? " (not a program this machine can run: an object file, a library "
                       "without an entry point, or another architecture)" : "");
    return e == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN;
}

static int run_app(int mode, int argc, char **argv)
{
    char path[PATH_MAX];
    struct stat st;
    const char *what;
    int rc, shared;

    rc = resolve(argv[0], path, sizeof(path));
    if (rc != 0)
        return rc;
    if (stat(path, &st) != 0) {
        msg("%s: %s", argv[0], strerror(errno));
        return EXIT_NOT_FOUND;
    }
    if (S_ISDIR(st.st_mode)) {
        msg("%s: is a directory, not an application", argv[0]);
        return EXIT_CANNOT_RUN;
    }
    shared = is_shared_object(path, &what);
    if (mode == MODE_LOAD)
        shared = 1;
    else if (mode == MODE_EXEC)
        shared = 0;
    if (shared) /* path holds a '/' (resolve), so dlopen does not search for it */
        return run_shared(path, what, argc, argv);
    return run_exec(path, what, argv);
}

/* ------------------------------------------------------------------------------
 * info
 * ------------------------------------------------------------------------------ */

/* Tasks of this step on this node: SLURM_STEP_TASKS_PER_NODE ("2(x3),1") at
 * SLURM_NODEID, or OMPI_COMM_WORLD_LOCAL_SIZE; 0 when unknown. */
static int local_tasks(void)
{
    const char *tpn = getenv("SLURM_STEP_TASKS_PER_NODE"), *nid = getenv("SLURM_NODEID");
    const char *v;

    if (tpn != NULL && nid != NULL) {
        int node = atoi(nid), idx = 0;
        const char *p = tpn;
        while (*p != '\0') {
            char *end;
            long n = strtol(p, &end, 10), reps = 1;
            if (end == p)
                break;
            p = end;
            if (strncmp(p, "(x", 2) == 0) {
                reps = strtol(p + 2, &end, 10);
                p = end;
                if (*p == ')')
                    p++;
            }
            if (node < idx + reps)
                return (int)n;
            idx += (int)reps;
            if (*p == ',')
                p++;
        }
    }
    if ((v = getenv("OMPI_COMM_WORLD_LOCAL_SIZE")) != NULL && atoi(v) > 0)
        return atoi(v);
    return 0;
}

/* Is this process bound to part of the machine (srun --cpu-bind, mpirun binding)? */
static int bound_to_subset(const char *cpuset)
{
    const char *b = getenv("SLURM_CPU_BIND_TYPE");
    if (b != NULL && b[0] != '\0')
        return strstr(b, "none") == NULL;
    if (getenv("SLURM_JOB_ID") != NULL)
        return 0; /* Slurm without binding: the step's ranks share the cpuset */
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    int sub = 0;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (set != NULL && hwloc_bitmap_list_sscanf(set, cpuset) == 0)
        sub = online > 0 && hwloc_bitmap_weight(set) < online;
    hwloc_bitmap_free(set);
    return sub;
}

/* The GPUs this rank sees: the list and the variable it came from. */
static const char *visible_gpus(const char **from)
{
    static const char *const vars[] = {"CUDA_VISIBLE_DEVICES", "SLURM_STEP_GPUS",
                                       "SLURM_JOB_GPUS", NULL};
    for (int i = 0; vars[i] != NULL; i++) {
        const char *v = getenv(vars[i]);
        if (v != NULL) {
            *from = vars[i];
            return v[0] != '\0' && strcmp(v, "NoDevFiles") != 0 ? v : NULL;
        }
    }
    *from = NULL;
    return NULL;
}

static int count_list(const char *s)
{
    int n = 1;
    for (; *s; s++)
        n += *s == ',';
    return n;
}

typedef struct {
    char cpuset[256];
    int  ncores;       /* cores (PUs when no core objects) in the cpuset */
    int  cpus;         /* executor threads rmpi_init would start */
    char cpus_why[160];
    int  local;        /* tasks of the step on this node, 0 unknown */
} rank_res_t;

/* What rmpi_init would compute for this rank (see core.c: explicit count, else
 * the cpuset's cores divided among the node's ranks whose cpusets overlap). */
static void rank_resources(rank_res_t *r)
{
    const char *s;

    memset(r, 0, sizeof(*r));
    if (rmpi__cpus_detect(r->cpuset, sizeof(r->cpuset), &r->ncores) != RMPI_OK) {
        snprintf(r->cpuset, sizeof(r->cpuset), "?");
        r->ncores = 1;
    }
    r->local = local_tasks();
    if (rmpi__cfg.num_cpus > 0) {
        r->cpus = rmpi__cfg.num_cpus;
        snprintf(r->cpus_why, sizeof(r->cpus_why), "RAYMPI_SCHED_NUM_CPUS");
    } else if ((s = getenv("SLURM_CPUS_PER_TASK")) != NULL && atoi(s) > 0) {
        r->cpus = atoi(s);
        snprintf(r->cpus_why, sizeof(r->cpus_why), "SLURM_CPUS_PER_TASK");
    } else if (r->local > 1 && !bound_to_subset(r->cpuset)) {
        r->cpus = r->ncores / r->local;
        snprintf(r->cpus_why, sizeof(r->cpus_why),
                 "%d cores of the cpuset shared by the %d ranks of this node", r->ncores,
                 r->local);
    } else {
        r->cpus = r->ncores;
        snprintf(r->cpus_why, sizeof(r->cpus_why), "%s %d core%s of the cpuset%s",
                 r->ncores == 1 ? "the" : "all", r->ncores, r->ncores == 1 ? "" : "s",
                 r->local > 1 ? ", bound to this rank" : "");
    }
    if (r->cpus < 1)
        r->cpus = 1;
}

/* The transports UCX offers here: "tl: device (type), ..." lines, one per tl. */
static void print_ucx_transports(FILE *out)
{
    static const char *const dev_types[] = {"net", "shm", "acc", "self"};
    uct_component_h *comps = NULL;
    unsigned ncomps = 0;
    char tls[64][UCT_TL_NAME_MAX];
    char devs[64][512];
    int ntl = 0;

    if (uct_query_components(&comps, &ncomps) != UCS_OK) {
        fprintf(out, "  (UCX reported no transport components)\n");
        return;
    }
    for (unsigned c = 0; c < ncomps; c++) {
        uct_component_attr_t ca;
        memset(&ca, 0, sizeof(ca));
        ca.field_mask = UCT_COMPONENT_ATTR_FIELD_NAME | UCT_COMPONENT_ATTR_FIELD_MD_RESOURCE_COUNT;
        if (uct_component_query(comps[c], &ca) != UCS_OK || ca.md_resource_count == 0)
            continue;
        uct_md_resource_desc_t *mds = calloc(ca.md_resource_count, sizeof(*mds));
        if (mds == NULL)
            continue;
        ca.field_mask = UCT_COMPONENT_ATTR_FIELD_MD_RESOURCES;
        ca.md_resources = mds;
        if (uct_component_query(comps[c], &ca) != UCS_OK) {
            free(mds);
            continue;
        }
        for (unsigned m = 0; m < ca.md_resource_count; m++) {
            uct_md_config_t *cfg = NULL;
            uct_md_h md = NULL;
            uct_tl_resource_desc_t *res = NULL;
            unsigned nres = 0;

            if (uct_md_config_read(comps[c], NULL, NULL, &cfg) != UCS_OK)
                continue;
            ucs_status_t st = uct_md_open(comps[c], mds[m].md_name, cfg, &md);
            uct_config_release(cfg);
            if (st != UCS_OK)
                continue;
            if (uct_md_query_tl_resources(md, &res, &nres) == UCS_OK) {
                for (unsigned t = 0; t < nres; t++) {
                    int i;
                    for (i = 0; i < ntl; i++)
                        if (strcmp(tls[i], res[t].tl_name) == 0)
                            break;
                    if (i == ntl) {
                        if (ntl == 64)
                            continue;
                        snprintf(tls[ntl], sizeof(tls[ntl]), "%s", res[t].tl_name);
                        devs[ntl][0] = '\0';
                        ntl++;
                    }
                    size_t used = strlen(devs[i]);
                    unsigned ty = (unsigned)res[t].dev_type;
                    snprintf(devs[i] + used, sizeof(devs[i]) - used, "%s%s (%s)",
                             used ? ", " : "", res[t].dev_name,
                             ty < sizeof(dev_types) / sizeof(dev_types[0]) ? dev_types[ty] : "?");
                }
                uct_release_tl_resource_list(res);
            }
            uct_md_close(md);
        }
        free(mds);
    }
    uct_release_component_list(comps);
    if (ntl == 0)
        fprintf(out, "  (none)\n");
    for (int i = 0; i < ntl; i++)
        fprintf(out, "  %-10s %s\n", tls[i], devs[i]);
    const char *sel = getenv("UCX_TLS");
    if (sel != NULL)
        fprintf(out, "  UCX_TLS=%s restricts which of them the runtime may use\n", sel);
}

/* How rmpi_init would start (see boot.c), from the environment alone. */
static void print_startup(FILE *out)
{
    const char *ns = getenv("PMIX_NAMESPACE"), *v;
    int size = env_size();

    v = getenv("RAYMPI_BOOT_METHOD");
    if (v != NULL && strcasecmp(v, "auto") != 0)
        fprintf(out, "  start-up    %s (RAYMPI_BOOT_METHOD)\n", v);
    else if (ns != NULL || getenv("PMIX_RANK") != NULL)
        fprintf(out, "  start-up    PMIx (namespace %s), or MPI_Allgather if the app calls "
                     "MPI_Init first\n", ns ? ns : "?");
    else if (size > 1)
        fprintf(out, "  start-up    WILL FAIL: %d tasks but no PMIx server in the environment "
                     "(PMIX_NAMESPACE unset): start with srun --mpi=pmix or mpirun\n", size);
    else
        fprintf(out, "  start-up    singleton (no PMIx server: one process, local executor "
                     "threads)\n");
}

static void print_slurm(FILE *out)
{
    static const char *const vars[] = {
        "SLURM_JOB_ID", "SLURM_STEP_ID", "SLURM_PROCID", "SLURM_LOCALID", "SLURM_NODEID",
        "SLURM_CPUS_PER_TASK", "SLURM_STEP_NUM_TASKS", "SLURM_STEP_NUM_NODES",
        "SLURM_STEP_TASKS_PER_NODE", "SLURM_CPU_BIND_TYPE", "SLURM_MPI_TYPE", NULL};
    int any = 0;

    for (int i = 0; vars[i] != NULL; i++) {
        const char *v = getenv(vars[i]);
        if (v == NULL)
            continue;
        if (!any)
            fprintf(out, "  slurm      ");
        fprintf(out, " %s=%s", vars[i], v);
        any = 1;
    }
    if (any)
        fprintf(out, "\n");
    else
        fprintf(out, "  slurm       not in a Slurm job\n");
}

static void print_store(FILE *out, int local)
{
    if (rmpi__cfg.store_capacity > 0) {
        fprintf(out, "  store       %.1f MiB (RAYMPI_STORE_CAPACITY)\n",
                (double)rmpi__cfg.store_capacity / (1 << 20));
        return;
    }
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    double mem = pages > 0 && psize > 0 ? (double)pages * (double)psize : 4.0 * (1 << 30);
    int n = local > 0 ? local : 1;
    fprintf(out, "  store       %.1f MiB (30%% of the node's %.1f GiB memory / %d rank%s of "
                 "this node)\n", mem * 0.3 / n / (1 << 20), mem / (1 << 30), n,
            n == 1 ? "" : "s");
}

static void print_build(FILE *out)
{
    char mpiver[MPI_MAX_LIBRARY_VERSION_STRING] = "";
    int len = 0;
    unsigned hw = hwloc_get_api_version();

    fprintf(out, "ray-mpi %s (API %d.%d.%d)\n", PACKAGE_VERSION, RMPI_VERSION_MAJOR,
            RMPI_VERSION_MINOR, RMPI_VERSION_PATCH);
    fprintf(out, "build:\n");
    fprintf(out, "  UCX         %s (built against %d.%d)\n", ucp_get_version_string(),
            UCP_API_MAJOR, UCP_API_MINOR);
    fprintf(out, "  PMIx        %s\n", PMIx_Get_version());
    if (MPI_Get_library_version(mpiver, &len) == MPI_SUCCESS) {
        mpiver[strcspn(mpiver, "\n")] = '\0';
        fprintf(out, "  MPI         %s\n", mpiver);
    }
    fprintf(out, "  hwloc       API %u.%u.%u\n", hw >> 16, (hw >> 8) & 0xff, hw & 0xff);
#ifdef HAVE_CUDA
    fprintf(out, "  CUDA        compiled in (GPU objects need a device at run time)\n");
#else
    fprintf(out, "  CUDA        not compiled in (host memory only)\n");
#endif
}

/* Write buf to stdout, each line prefixed with prefix; one write per call when
 * it fits, so the blocks of different ranks stay whole as far as srun allows. */
static void emit(const char *buf, size_t len, const char *prefix)
{
    size_t plen = strlen(prefix), lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    char *out = malloc(len + lines * plen + 1);
    size_t n = 0;
    int bol = 1;

    if (out == NULL) {
        fwrite(buf, 1, len, stdout);
        return;
    }
    for (size_t i = 0; i < len; i++) {
        if (bol) {
            memcpy(out + n, prefix, plen);
            n += plen;
        }
        out[n++] = buf[i];
        bol = buf[i] == '\n';
    }
    fflush(stdout);
    for (size_t off = 0; off < n;) {
        ssize_t w = write(STDOUT_FILENO, out + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    free(out);
}

static int cmd_info(int argc, char **argv)
{
    int shortform = 0, rc = 0;
    char err[512] = "";
    const char *rank_from = NULL, *gpu_from = NULL;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--short") == 0 || strcmp(argv[i], "-s") == 0)
            shortform = 1;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("Usage: ray-mpi info [--short]\n"
                   "  Prints the version, build features, the UCX transports of this node,\n"
                   "  this rank's resources as rmpi_init would compute them (nothing is\n"
                   "  started), and every RAYMPI_ variable with its value, default and\n"
                   "  meaning.  Inside a job step every task prints its own block, each\n"
                   "  line prefixed with its rank.  Exit status 1 when a RAYMPI_ variable\n"
                   "  has an invalid value.\n"
                   "  --short  one line per rank: rank= host= cpus= cpuset= gpus=\n");
            return 0;
        } else
            return usage_error("info: unknown argument '%s'", argv[i]);
    }

    /* The configuration as rmpi_init reads it: warns about misspelt variables. */
    if (rmpi__config_load(err, sizeof(err)) != RMPI_OK) {
        rc = 1;
        memset(&rmpi__cfg, 0, sizeof(rmpi__cfg));
        const char *v = getenv("RAYMPI_SCHED_NUM_CPUS");
        rmpi__cfg.num_cpus = v != NULL && atoi(v) > 0 ? atoi(v) : 0;
    }

    rank_res_t res;
    rank_resources(&res);
    int rank = env_rank(&rank_from), size = env_size();
    const char *gpus = visible_gpus(&gpu_from);

    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (out == NULL) {
        msg("info: out of memory");
        return 1;
    }
    if (shortform) {
        fprintf(out, "rank=%d host=%s cpus=%d cpuset=%s gpus=%s\n", rank >= 0 ? rank : 0,
                hostname(), res.cpus, res.cpuset, gpus ? gpus : "none");
    } else {
        print_build(out);
        fprintf(out, "UCX transports on this node (transport: devices):\n");
        print_ucx_transports(out);
        fprintf(out, "this rank, as rmpi_init would set it up (nothing is started here):\n");
        fprintf(out, "  host        %s\n", hostname());
        if (rank >= 0 && size > 0)
            fprintf(out, "  rank        %d of %d (%s)\n", rank, size, rank_from);
        else if (rank >= 0)
            fprintf(out, "  rank        %d (%s)\n", rank, rank_from);
        else
            fprintf(out, "  rank        0 of 1 (not started by srun or mpirun)\n");
        if (res.local > 0)
            fprintf(out, "  on node     %d rank%s of the step\n", res.local,
                    res.local == 1 ? "" : "s");
        print_slurm(out);
        print_startup(out);
        fprintf(out, "  cpuset      %s (%d core%s)\n", res.cpuset, res.ncores,
                res.ncores == 1 ? "" : "s");
        fprintf(out, "  cpus        %d executor thread%s (%s)\n", res.cpus,
                res.cpus == 1 ? "" : "s", res.cpus_why);
        if (gpus != NULL)
            fprintf(out, "  gpus        %s (%d, from %s)\n", gpus, count_list(gpus), gpu_from);
        else if (gpu_from != NULL)
            fprintf(out, "  gpus        none (%s is empty)\n", gpu_from);
        else
            fprintf(out, "  gpus        none visible (CUDA_VISIBLE_DEVICES, SLURM_STEP_GPUS and "
                         "SLURM_JOB_GPUS unset)\n");
        print_store(out, res.local);
        fprintf(out, "configuration (RAYMPI_* environment variables: value, default, meaning):\n");
        if (err[0] != '\0')
            fprintf(out, "ERROR: %s\n", err);
        rmpi__config_print(out);
    }
    fclose(out);

    char prefix[32] = "";
    if (!shortform && rank >= 0)
        snprintf(prefix, sizeof(prefix), "%d: ", rank);
    emit(buf, len, prefix);
    free(buf);
    if (err[0] != '\0')
        msg("invalid configuration: %s", err);
    return rc;
}

/* ------------------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"cpus", required_argument, NULL, 'c'},
        {"log", required_argument, NULL, 'l'},
        {"load", no_argument, NULL, 'L'},
        {"exec", no_argument, NULL, 'E'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    static const char *const levels[] = {"error", "warn", "info", "debug", "trace", NULL};
    int c, mode = MODE_AUTO;

    opterr = 0;
    /* '+': stop at the first non-option, so APP's own options stay APP's. */
    while ((c = getopt_long(argc, argv, "+:c:l:vhV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': {
            char *end;
            long n;
            errno = 0;
            n = strtol(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || n < 1 || n > 4096)
                return usage_error("--cpus wants a whole number from 1 to 4096, not '%s'", optarg);
            setenv("RAYMPI_SCHED_NUM_CPUS", optarg, 1);
            break;
        }
        case 'l': {
            int i;
            for (i = 0; levels[i] != NULL; i++)
                if (strcasecmp(optarg, levels[i]) == 0)
                    break;
            if (levels[i] == NULL)
                return usage_error("--log wants error, warn, info, debug or trace, not '%s'",
                                   optarg);
            setenv("RAYMPI_LOG_LEVEL", levels[i], 1);
            break;
        }
        case 'L':
            mode = MODE_LOAD;
            break;
        case 'E':
            mode = MODE_EXEC;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("ray-mpi %s\n", PACKAGE_VERSION);
            return 0;
        case ':':
            return usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            if (optopt != 0)
                return usage_error("unknown option '-%c'", optopt);
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return usage_error("no application given: ray-mpi [options] APP [ARGS...] "
                           "or ray-mpi info");
    if (argv[optind][0] == '\0')
        return usage_error("empty application name");
    /* A subcommand, unless '--' came first (ray-mpi -- info runs an app "info"). */
    if (strcmp(argv[optind - 1], "--") != 0 || optind == 1) {
        if (strcmp(argv[optind], "info") == 0)
            return cmd_info(argc - optind, argv + optind);
    }
    if (verbose) {
        const char *v1 = getenv("RAYMPI_SCHED_NUM_CPUS"), *v2 = getenv("RAYMPI_LOG_LEVEL");
        msg("version %s; RAYMPI_SCHED_NUM_CPUS=%s RAYMPI_LOG_LEVEL=%s", PACKAGE_VERSION,
            v1 ? v1 : "(unset)", v2 ? v2 : "(unset)");
    }
    return run_app(mode, argc - optind, argv + optind);
}
