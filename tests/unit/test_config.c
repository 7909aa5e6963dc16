/* base/config.c: sizes, the RAYMPI_* table, suggestions, warnings and the listing. */
#include "base/config.h"
#include "base/log.h"
#include "raympi.h"

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static const char *const known[] = {
    "RAYMPI_LOG_LEVEL",        "RAYMPI_BOOT_METHOD",        "RAYMPI_UCX_PROGRESS",
    "RAYMPI_UCX_SPIN_US",      "RAYMPI_UCX_ERR_HANDLING",   "RAYMPI_STORE_CAPACITY",
    "RAYMPI_STORE_INLINE_MAX", "RAYMPI_SCHED_NUM_CPUS",     "RAYMPI_SCHED_BIND",
    "RAYMPI_SCHED_BATCH",      "RAYMPI_CORE_CATCH_CRASHES", "RAYMPI_CORE_SHUTDOWN_TIMEOUT",
    "RAYMPI_CORE_TMPDIR",      "RAYMPI_SCHED_EARLY_DISPATCH", "RAYMPI_SCHED_CALLER_RUNS",
};
#define NKNOWN (sizeof(known) / sizeof(known[0]))

/* Each test starts from an environment without RAYMPI_ variables (the caller's
 * own settings must not change the results). */
static void clear_raympi_env(void)
{
    for (;;) {
        char name[256];
        char **e;

        for (e = environ; *e != NULL; e++)
            if (strncmp(*e, "RAYMPI_", 7) == 0)
                break;
        if (*e == NULL)
            return;
        size_t n = strcspn(*e, "=");
        cr_assert_lt(n, sizeof(name));
        memcpy(name, *e, n);
        name[n] = '\0';
        unsetenv(name);
    }
}

static void setup_redirect(void)
{
    clear_raympi_env();
    cr_redirect_stderr();
}

/* What the test wrote to stderr so far (redirected by setup_redirect). */
static char *captured_stderr(void)
{
    static char buf[65536];
    size_t len = 0;
    int fd;

    fflush(stderr);
    fd = fileno(cr_get_redirected_stderr());
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return buf;
}

static uint64_t size_of(const char *s)
{
    uint64_t v = 0xdeadbeef;
    int rc = rmpi__parse_size(s, &v);
    cr_assert_eq(rc, 0, "\"%s\" did not parse", s);
    return v;
}

static void size_rejected(const char *s)
{
    uint64_t v = 0xdeadbeef;
    cr_assert_neq(rmpi__parse_size(s, &v), 0, "\"%s\" was accepted as %llu", s,
                  (unsigned long long)v);
    cr_assert_eq(v, 0xdeadbeef, "\"%s\" wrote the output on failure", s);
}

/* ---- rmpi__parse_size ---- */

Test(parse_size, plain_number)
{
    cr_assert_eq(size_of("12345"), 12345);
    cr_assert_eq(size_of("0"), 0);
}

Test(parse_size, kilo_suffix)
{
    cr_assert_eq(size_of("64K"), 64 * 1024);
    cr_assert_eq(size_of("64k"), 64 * 1024);
}

Test(parse_size, fractional_giga)
{
    cr_assert_eq(size_of("1.5G"), 1536ull * 1024 * 1024);
}

Test(parse_size, kib_suffix)
{
    cr_assert_eq(size_of("100KiB"), 100 * 1024);
}

Test(parse_size, mb_suffix_is_binary)
{
    cr_assert_eq(size_of("1MB"), 1024 * 1024);
    cr_assert_eq(size_of("2M"), 2 * 1024 * 1024);
}

Test(parse_size, tera_suffix)
{
    cr_assert_eq(size_of("1T"), 1024ull * 1024 * 1024 * 1024);
}

Test(parse_size, empty_is_invalid)
{
    size_rejected("");
}

Test(parse_size, letters_are_invalid)
{
    size_rejected("abc");
}

Test(parse_size, negative_is_invalid)
{
    size_rejected("-1");
}

Test(parse_size, unknown_suffix_is_invalid)
{
    size_rejected("12X");
}

Test(parse_size, trailing_garbage_is_invalid)
{
    size_rejected("12KBx");
    size_rejected("12 K");
}

/* ---- rmpi__config_load ---- */

Test(config_load, defaults, .init = clear_raympi_env)
{
    char err[256] = "";

    cr_assert_eq(rmpi__config_load(err, sizeof(err)), RMPI_OK, "%s", err);
    cr_assert_eq(rmpi__cfg.log_level, RMPI_LOG_WARN);
    cr_assert_eq(rmpi__cfg.boot, RMPI_BOOT_AUTO);
    cr_assert_eq(rmpi__cfg.progress, RMPI_PROGRESS_AUTO);
    cr_assert_eq(rmpi__cfg.spin_us, -1);
    cr_assert_eq(rmpi__cfg.err_handling, RMPI_ERRH_AUTO);
    cr_assert_eq(rmpi__cfg.store_capacity, 0);
    cr_assert_eq(rmpi__cfg.inline_max, 100 * 1024);
    cr_assert_eq(rmpi__cfg.num_cpus, 0);
    cr_assert_eq(rmpi__cfg.bind, 1);
    cr_assert_eq(rmpi__cfg.batch, 256);
    cr_assert_eq(rmpi__cfg.crash_handler, 1);
    cr_assert_float_eq(rmpi__cfg.shutdown_timeout, 10.0, 1e-9);
    cr_assert_eq(rmpi__log_level, RMPI_LOG_WARN);
}

Test(config_load, valid_values_from_environment, .init = clear_raympi_env)
{
    char err[256] = "";

    setenv("RAYMPI_LOG_LEVEL", "debug", 1);
    setenv("RAYMPI_BOOT_METHOD", "singleton", 1);
    setenv("RAYMPI_UCX_PROGRESS", "spin", 1);
    setenv("RAYMPI_UCX_SPIN_US", "50", 1);
    setenv("RAYMPI_UCX_ERR_HANDLING", "no", 1);
    setenv("RAYMPI_STORE_CAPACITY", "2G", 1);
    setenv("RAYMPI_STORE_INLINE_MAX", "64K", 1);
    setenv("RAYMPI_SCHED_NUM_CPUS", "3", 1);
    setenv("RAYMPI_SCHED_BIND", "off", 1);
    setenv("RAYMPI_SCHED_BATCH", "32", 1);
    setenv("RAYMPI_CORE_CATCH_CRASHES", "false", 1);
    setenv("RAYMPI_CORE_SHUTDOWN_TIMEOUT", "2.5", 1);

    cr_assert_eq(rmpi__config_load(err, sizeof(err)), RMPI_OK, "%s", err);
    cr_assert_eq(rmpi__cfg.log_level, RMPI_LOG_DEBUG);
    cr_assert_eq(rmpi__cfg.boot, RMPI_BOOT_SINGLETON);
    cr_assert_eq(rmpi__cfg.progress, RMPI_PROGRESS_SPIN);
    cr_assert_eq(rmpi__cfg.spin_us, 50);
    cr_assert_eq(rmpi__cfg.err_handling, RMPI_ERRH_NO);
    cr_assert_eq(rmpi__cfg.store_capacity, 2ull << 30);
    cr_assert_eq(rmpi__cfg.inline_max, 64 * 1024);
    cr_assert_eq(rmpi__cfg.num_cpus, 3);
    cr_assert_eq(rmpi__cfg.bind, 0);
    cr_assert_eq(rmpi__cfg.batch, 32);
    cr_assert_eq(rmpi__cfg.crash_handler, 0);
    cr_assert_float_eq(rmpi__cfg.shutdown_timeout, 2.5, 1e-9);
    cr_assert_eq(rmpi__log_level, RMPI_LOG_DEBUG, "the log level follows the config");
}

Test(config_load, enum_and_bool_values_ignore_case, .init = clear_raympi_env)
{
    char err[256] = "";

    setenv("RAYMPI_BOOT_METHOD", "PMIx", 1);
    setenv("RAYMPI_SCHED_BIND", "NO", 1);
    cr_assert_eq(rmpi__config_load(err, sizeof(err)), RMPI_OK, "%s", err);
    cr_assert_eq(rmpi__cfg.boot, RMPI_BOOT_PMIX);
    cr_assert_eq(rmpi__cfg.bind, 0);
}

Test(config_load, invalid_enum_names_the_variable, .init = clear_raympi_env)
{
    char err[256] = "";

    setenv("RAYMPI_LOG_LEVEL", "loud", 1);
    cr_assert_eq(rmpi__config_load(err, sizeof(err)), RMPI_ERR_CONFIG);
    cr_assert(strstr(err, "RAYMPI_LOG_LEVEL") != NULL, "message: %s", err);
    cr_assert(strstr(err, "loud") != NULL, "message: %s", err);
}

Test(config_load, invalid_size_names_the_variable, .init = clear_raympi_env)
{
    char err[256] = "";

    setenv("RAYMPI_STORE_CAPACITY", "12X", 1);
    cr_assert_eq(rmpi__config_load(err, sizeof(err)), RMPI_ERR_CONFIG);
    cr_assert(strstr(err, "RAYMPI_STORE_CAPACITY") != NULL, "message: %s", err);
}

Test(config_load, invalid_int_names_the_variable, .init = clear_raympi_env)
{
    char err[256] = "";

    setenv("RAYMPI_SCHED_NUM_CPUS", "four", 1);
    cr_assert_eq(rmpi__config_load(err, sizeof(err)), RMPI_ERR_CONFIG);
    cr_assert(strstr(err, "RAYMPI_SCHED_NUM_CPUS") != NULL, "message: %s", err);
}

Test(config_load, invalid_value_keeps_previous_config, .init = clear_raympi_env)
{
    char err[256] = "";

    setenv("RAYMPI_SCHED_BATCH", "7", 1);
    cr_assert_eq(rmpi__config_load(err, sizeof(err)), RMPI_OK, "%s", err);
    setenv("RAYMPI_SCHED_BATCH", "8", 1);
    setenv("RAYMPI_SCHED_BIND", "perhaps", 1);
    cr_assert_eq(rmpi__config_load(err, sizeof(err)), RMPI_ERR_CONFIG);
    cr_assert_eq(rmpi__cfg.batch, 7);
}

Test(config_load, batch_zero_is_out_of_range, .init = clear_raympi_env)
{
    char err[256] = "";

    setenv("RAYMPI_SCHED_BATCH", "0", 1);
    cr_assert_eq(rmpi__config_load(err, sizeof(err)), RMPI_ERR_CONFIG);
    cr_assert(strstr(err, "RAYMPI_SCHED_BATCH") != NULL, "message: %s", err);
}

Test(config_load, batch_above_limit_is_out_of_range, .init = clear_raympi_env)
{
    char err[256] = "";

    setenv("RAYMPI_SCHED_BATCH", "65536", 1);
    cr_assert_eq(rmpi__config_load(err, sizeof(err)), RMPI_ERR_CONFIG);
    cr_assert(strstr(err, "RAYMPI_SCHED_BATCH") != NULL, "message: %s", err);
}

Test(config_load, nonpositive_shutdown_timeout_is_out_of_range, .init = clear_raympi_env)
{
    char err[256] = "";

    setenv("RAYMPI_CORE_SHUTDOWN_TIMEOUT", "0", 1);
    cr_assert_eq(rmpi__config_load(err, sizeof(err)), RMPI_ERR_CONFIG);
    cr_assert(strstr(err, "RAYMPI_CORE_SHUTDOWN_TIMEOUT") != NULL, "message: %s", err);
}

Test(config_load, unknown_variable_warns_with_suggestion, .init = setup_redirect)
{
    char err[256] = "";

    setenv("RAYMPI_STORE_CAPACTY", "1G", 1);
    cr_assert_eq(rmpi__config_load(err, sizeof(err)), RMPI_OK, "an unknown name is no error: %s",
                 err);
    const char *out = captured_stderr();
    cr_assert(strstr(out, "RAYMPI_STORE_CAPACTY") != NULL, "stderr: %s", out);
    cr_assert(strstr(out, "RAYMPI_STORE_CAPACITY") != NULL, "stderr: %s", out);
    cr_assert_eq(rmpi__cfg.store_capacity, 0, "the misspelt variable is ignored");
}

Test(config_load, unknown_variable_without_near_name_still_warns, .init = setup_redirect)
{
    char err[256] = "";

    setenv("RAYMPI_ZZZZZZZZZZZZZZZZZZZZZZZZ", "1", 1);
    cr_assert_eq(rmpi__config_load(err, sizeof(err)), RMPI_OK, "%s", err);
    const char *out = captured_stderr();
    cr_assert(strstr(out, "RAYMPI_ZZZZZZZZZZZZZZZZZZZZZZZZ") != NULL, "stderr: %s", out);
}

Test(config_load, unknown_variable_is_silent_at_error_level, .init = setup_redirect)
{
    char err[256] = "";

    setenv("RAYMPI_LOG_LEVEL", "error", 1);
    setenv("RAYMPI_STORE_CAPACTY", "1G", 1);
    cr_assert_eq(rmpi__config_load(err, sizeof(err)), RMPI_OK, "%s", err);
    const char *out = captured_stderr();
    cr_assert(strstr(out, "RAYMPI_STORE_CAPACTY") == NULL, "stderr: %s", out);
}

/* ---- rmpi__config_suggest ---- */

Test(config_suggest, near_misspelling)
{
    const char *s = rmpi__config_suggest("RAYMPI_STORE_CAPACTY");
    cr_assert_not_null(s);
    cr_assert_str_eq(s, "RAYMPI_STORE_CAPACITY");
}

Test(config_suggest, wrong_case_is_near)
{
    const char *s = rmpi__config_suggest("raympi_sched_bind");
    cr_assert_not_null(s);
    cr_assert_str_eq(s, "RAYMPI_SCHED_BIND");
}

Test(config_suggest, far_name_gives_null)
{
    cr_assert_null(rmpi__config_suggest("RAYMPI_ZZZZZZZZZZZZZZZZZZZZZZZZ"));
    cr_assert_null(rmpi__config_suggest("PATH"));
}

Test(config_suggest, very_long_name_gives_null)
{
    char name[400];

    memset(name, 'Q', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    cr_assert_null(rmpi__config_suggest(name));
}

/* ---- rmpi__config_print ---- */

Test(config_print, lists_every_variable, .init = clear_raympi_env)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    cr_assert_not_null(f);
    rmpi__config_print(f);
    fclose(f);
    for (size_t i = 0; i < NKNOWN; i++) {
        char line[128];
        snprintf(line, sizeof(line), "%s=", known[i]);
        cr_assert(strstr(text, line) != NULL, "%s missing from:\n%s", known[i], text);
    }
    free(text);
}

Test(config_print, lists_no_variable_twice_or_unknown_here, .init = clear_raympi_env)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    size_t lines = 0;

    rmpi__config_print(f);
    fclose(f);
    /* One "NAME=value" line at the start of a line per variable. */
    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, "RAYMPI_", 7) == 0)
            lines++;
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    cr_assert_eq(lines, NKNOWN, "%zu variables listed, this test knows %zu:\n%s", lines,
                 (size_t)NKNOWN, text);
    free(text);
}

Test(config_print, shows_value_set_in_environment, .init = clear_raympi_env)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    setenv("RAYMPI_SCHED_BATCH", "17", 1);
    rmpi__config_print(f);
    fclose(f);
    cr_assert(strstr(text, "RAYMPI_SCHED_BATCH=17\n") != NULL, "%s", text);
    free(text);
}

Test(config_suggest, known_name_suggests_itself)
{
    for (size_t i = 0; i < NKNOWN; i++) {
        const char *s = rmpi__config_suggest(known[i]);
        cr_assert_not_null(s);
        cr_assert_str_eq(s, known[i]);
    }
}
