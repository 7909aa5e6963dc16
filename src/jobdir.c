/*
 * The job's directory on a node: <base>/rmpi-<uid>/<job>, both mode 0700, where
 * base is RAYMPI_CORE_TMPDIR, else $TMPDIR, else /tmp.  One per user (other users'
 * jobs never share it) and per job step (two jobs of a user on one node never
 * share one).  Every local rank holds a shared lock on <job>/lock while it lives
 * and leaves a rank-<r> file with its pid; the last rank out removes the
 * directory.  A job killed with SIGKILL leaves its directory behind but no lock
 * holder: the next start on the node removes it.  No fixed names outside it, no
 * ports: UCX picks its own shared-memory segments and ephemeral ports.
 */
#include "core.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MOD "jobdir"
#define STALE_AGE_S 5 /* a directory younger than this may be a job starting up */

static struct {
    char path[300];
    char base[200];
    int  lock_fd;
    int  rank;
} jd = {.lock_fd = -1};

const char *rmpi__jobdir_path(void)
{
    return jd.path;
}

/* A directory of ours: not a link, owned by us, mode 0700 (made so if new). */
static int ensure_private_dir(const char *path, char *err, size_t errlen)
{
    struct stat st;

    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s (set RAYMPI_CORE_TMPDIR)", path,
                 strerror(errno));
        return RMPI_ERR_CONFIG;
    }
    if (lstat(path, &st) != 0) {
        snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
        return RMPI_ERR_CONFIG;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0077) != 0) {
        snprintf(err, errlen,
                 "%s is not a private directory of this user (owner uid %u, mode %o): "
                 "remove it or set RAYMPI_CORE_TMPDIR",
                 path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        return RMPI_ERR_CONFIG;
    }
    return RMPI_OK;
}

static void remove_dir(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    char f[512];

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(f, sizeof(f), "%s/%s", path, e->d_name);
        unlink(f);
    }
    closedir(d);
    rmdir(path);
}

/* Remove the directories of this user's jobs that died without cleaning up. */
static void clean_stale(const char *mine)
{
    DIR *d = opendir(jd.base);
    struct dirent *e;
    char dir[512], lock[600];
    time_t now = time(NULL);

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (e->d_name[0] == '.' || strcmp(e->d_name, mine) == 0)
            continue;
        snprintf(dir, sizeof(dir), "%s/%s", jd.base, e->d_name);
        if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || now - st.st_mtime < STALE_AGE_S)
            continue;
        snprintf(lock, sizeof(lock), "%s/lock", dir);
        int fd = open(lock, O_RDWR | O_CLOEXEC);
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
            close(fd); /* a live job holds it */
            continue;
        }
        rmpi_info(MOD, "removing %s, left by a job that ended without cleaning up", dir);
        remove_dir(dir);
        if (fd >= 0)
            close(fd);
    }
    closedir(d);
}

/* A job name that is safe and short in a path. */
static void job_name(const char *job, char *out, size_t len)
{
    const char *jid = getenv("SLURM_JOB_ID"), *sid = getenv("SLURM_STEP_ID");
    char raw[160];

    if (jid != NULL && sid != NULL)
        snprintf(raw, sizeof(raw), "slurm-%s.%s", jid, sid);
    else
        snprintf(raw, sizeof(raw), "%s", job);
    uint64_t h = 1469598103934665603ull;
    for (const char *c = raw; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ull;
    size_t n = 0;
    for (const char *c = raw; *c && n < 40 && n + 1 < len; c++)
        out[n++] = isalnum((unsigned char)*c) || *c == '-' || *c == '.' ? *c : '_';
    out[n] = '\0';
    /* the hash keeps truncated or sanitised names apart */
    snprintf(out + n, len - n, "-%08x", (unsigned)(h & 0xffffffffu));
}

int rmpi__jobdir_open(const char *job, int rank, char *err, size_t errlen)
{
    const char *base = rmpi__cfg.tmpdir[0] ? rmpi__cfg.tmpdir : getenv("TMPDIR");
    char name[64], f[512];
    int rc;

    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    if (strlen(base) > 120) {
        snprintf(err, errlen, "RAYMPI_CORE_TMPDIR/TMPDIR %s is too long (120 at most, so socket "
                 "paths inside fit)", base);
        return RMPI_ERR_CONFIG;
    }
    snprintf(jd.base, sizeof(jd.base), "%s/rmpi-%u", base, (unsigned)geteuid());
    rc = ensure_private_dir(jd.base, err, errlen);
    if (rc != RMPI_OK)
        return rc;
    job_name(job, name, sizeof(name));
    snprintf(jd.path, sizeof(jd.path), "%s/%s", jd.base, name);
    /* Another rank of the job may be removing the directory as we make it (it failed
     * to start and left last): try again a few times. */
    for (int attempt = 0;; attempt++) {
        rc = ensure_private_dir(jd.path, err, errlen);
        if (rc == RMPI_OK) {
            snprintf(f, sizeof(f), "%s/lock", jd.path);
            jd.lock_fd = open(f, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
            if (jd.lock_fd >= 0 && flock(jd.lock_fd, LOCK_SH) == 0 && access(f, F_OK) == 0)
                break;
            snprintf(err, errlen, "cannot lock %s: %s", f, strerror(errno));
            if (jd.lock_fd >= 0)
                close(jd.lock_fd);
            jd.lock_fd = -1;
            rc = RMPI_ERR_CONFIG;
        }
        if (attempt == 4) {
            jd.path[0] = '\0';
            return rc;
        }
        usleep(10000);
    }
    jd.rank = rank;
    snprintf(f, sizeof(f), "%s/rank-%d", jd.path, rank);
    FILE *fp = fopen(f, "w");
    if (fp != NULL) {
        fprintf(fp, "%ld\n", (long)getpid());
        fclose(fp);
    }
    clean_stale(name);
    return RMPI_OK;
}

void rmpi__jobdir_close(void)
{
    char f[512];

    if (jd.path[0] == '\0')
        return;
    snprintf(f, sizeof(f), "%s/rank-%d", jd.path, jd.rank);
    unlink(f);
    if (jd.lock_fd >= 0) {
        /* Upgrade without blocking: succeeds only for the last rank of the node. */
        if (flock(jd.lock_fd, LOCK_EX | LOCK_NB) == 0)
            remove_dir(jd.path);
        close(jd.lock_fd);
        jd.lock_fd = -1;
    }
    jd.path[0] = '\0';
}
