/* base/status.c: rmpi_status_string names every status of RMPI_STATUS_LIST. */
#include "raympi.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <string.h>

typedef struct {
    const char *name;
    int         value;
    const char *text;
} status_row_t;

#define ROW_(name, value, text) {#name, value, text},
static const status_row_t rows[] = {RMPI_STATUS_LIST(ROW_)};
#undef ROW_
#define NROWS (sizeof(rows) / sizeof(rows[0]))

static int is_listed(int value)
{
    for (size_t i = 0; i < NROWS; i++)
        if (rows[i].value == value)
            return 1;
    return 0;
}

/* 1 when s is "NAME: ..." for one of the listed names. */
static int names_a_listed_status(const char *s)
{
    for (size_t i = 0; i < NROWS; i++) {
        size_t n = strlen(rows[i].name);
        if (strncmp(s, rows[i].name, n) == 0 && s[n] == ':')
            return 1;
    }
    return 0;
}

Test(status, every_listed_status_is_named)
{
    for (size_t i = 0; i < NROWS; i++) {
        const char *s = rmpi_status_string(rows[i].value);
        size_t n = strlen(rows[i].name);

        cr_assert_not_null(s, "%s gives NULL", rows[i].name);
        cr_assert(strncmp(s, rows[i].name, n) == 0 && s[n] == ':',
                  "status %d gives \"%s\", not its name %s", rows[i].value, s, rows[i].name);
    }
}

Test(status, every_listed_status_has_its_text)
{
    for (size_t i = 0; i < NROWS; i++) {
        const char *s = rmpi_status_string(rows[i].value);
        cr_assert(strstr(s, rows[i].text) != NULL, "%s: \"%s\" lacks \"%s\"", rows[i].name, s,
                  rows[i].text);
    }
}

Test(status, ok_and_error_codes_have_expected_signs)
{
    cr_assert_eq(RMPI_OK, 0);
    for (size_t i = 0; i < NROWS; i++)
        if (strncmp(rows[i].name, "RMPI_ERR_", 9) == 0)
            cr_assert_lt(rows[i].value, 0, "%s is %d", rows[i].name, rows[i].value);
}

Test(status, unknown_codes_give_a_generic_string)
{
    const int unknown[] = {INT_MIN, -100000, -1000, 1000, 12345, INT_MAX};
    const char *first = rmpi_status_string(unknown[0]);

    cr_assert_not_null(first);
    cr_assert_gt(strlen(first), 0);
    cr_assert_not(names_a_listed_status(first), "unknown code gives \"%s\"", first);
    for (size_t i = 1; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        const char *s = rmpi_status_string(unknown[i]);

        cr_assert_not(is_listed(unknown[i]), "pick another unknown code than %d", unknown[i]);
        cr_assert_not_null(s, "code %d gives NULL", unknown[i]);
        cr_assert_str_eq(s, first, "code %d gives \"%s\"", unknown[i], s);
    }
}

Test(status, codes_next_to_the_list_are_unknown)
{
    int lo = 0, hi = 0;

    for (size_t i = 0; i < NROWS; i++) {
        if (rows[i].value < lo)
            lo = rows[i].value;
        if (rows[i].value > hi)
            hi = rows[i].value;
    }
    cr_assert_not(names_a_listed_status(rmpi_status_string(lo - 1)), "%d", lo - 1);
    cr_assert_not(names_a_listed_status(rmpi_status_string(hi + 1)), "%d", hi + 1);
}
