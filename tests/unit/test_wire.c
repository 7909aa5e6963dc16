/* The checks a task record passes before the runtime allocates anything for it
 * (rmpi__task_wire_check): a record from another rank that is short, names an
 * unknown function, class or method, or says a rank other than its sender pushes an
 * argument is dropped, not trusted. */
#include "core.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

enum { SRC = 2 };

static rmpi_centry_t classes[1];

static void setup(void)
{
    rmpi__rt.rank = 1;
    rmpi__rt.size = 3;
    rmpi__rt.nfns = 2;
    classes[0].nmethods = 2;
    rmpi__rt.classes = classes;
    rmpi__rt.nclasses = 1;
}

static void teardown(void)
{
    rmpi__rt.classes = NULL;
    rmpi__rt.nclasses = rmpi__rt.nfns = rmpi__rt.size = rmpi__rt.rank = 0;
}

TestSuite(wire, .init = setup, .fini = teardown);

/* A record under construction. */
static struct {
    char   b[4096];
    size_t len;
} rec;

static rmpi_wire_task_t *begin(uint8_t kind, uint32_t fn, uint16_t nargs)
{
    rmpi_wire_task_t w;
    memset(&w, 0, sizeof(w));
    w.seq = 7;
    w.fn = fn;
    w.nargs = nargs;
    w.nret = 1;
    w.kind = kind;
    w.actor_hi = (uint64_t)0 << 8; /* class 0 */
    memcpy(rec.b, &w, sizeof(w));
    rec.len = sizeof(w);
    return (rmpi_wire_task_t *)rec.b;
}

static void arg(uint8_t kind, int32_t holder, const void *value, uint64_t size)
{
    rmpi_wire_arg_t a;
    memset(&a, 0, sizeof(a));
    a.type = RMPI_ARG_REF;
    a.kind = kind;
    a.holder = holder;
    a.size = size;
    a.id.hi = 1;
    a.id.lo = 3;
    memcpy(rec.b + rec.len, &a, sizeof(a));
    rec.len += sizeof(a);
    if (kind == ARGK_VALUE || kind == ARGK_INLINE) {
        memset(rec.b + rec.len, 0, RMPI_ALIGN_UP(size, 8));
        memcpy(rec.b + rec.len, value, size);
        rec.len += RMPI_ALIGN_UP(size, 8);
    }
}

static int check(void)
{
    size_t blob = 12345;
    int rc = rmpi__task_wire_check(rec.b, rec.len, SRC, &blob);
    if (rc == 0)
        cr_assert_lt(blob, sizeof(rec.b), "blob %zu", blob);
    return rc;
}

Test(wire, a_task_with_every_argument_kind_passes)
{
    size_t blob = 0;
    begin(TK_TASK, 1, 5);
    arg(ARGK_VALUE, -1, "hello", 5);
    arg(ARGK_INLINE, SRC, "0123456789", 10);
    arg(ARGK_AT, 0, NULL, 1 << 20);
    arg(ARGK_PENDING, 1, NULL, 0);
    arg(ARGK_PUSHED, SRC, NULL, 0);
    cr_assert_eq(rmpi__task_wire_check(rec.b, rec.len, SRC, &blob), 0);
    cr_assert_eq(blob, 8 + 16, "the values' bytes, each rounded up to 8");
}

Test(wire, a_pushed_argument_must_name_the_sender)
{
    begin(TK_TASK, 0, 1);
    arg(ARGK_PUSHED, 0, NULL, 0); /* rank 0 did not send this task */
    cr_assert_eq(check(), -1);
    begin(TK_TASK, 0, 1);
    arg(ARGK_PUSHED, SRC, NULL, 0);
    cr_assert_eq(check(), 0);
}

Test(wire, holders_outside_the_job_are_refused)
{
    begin(TK_TASK, 0, 1);
    arg(ARGK_AT, 3, NULL, 64);
    cr_assert_eq(check(), -1, "rank 3 of 3");
    begin(TK_TASK, 0, 1);
    arg(ARGK_PENDING, -1, NULL, 0);
    cr_assert_eq(check(), -1);
}

Test(wire, unknown_argument_kinds_are_refused)
{
    begin(TK_TASK, 0, 1);
    arg(99, SRC, NULL, 0);
    cr_assert_eq(check(), -1);
}

Test(wire, truncated_records_are_refused)
{
    begin(TK_TASK, 0, 1);
    arg(ARGK_VALUE, -1, "abcdefgh", 8);
    size_t whole = rec.len;
    for (size_t cut = 0; cut < whole; cut++) {
        size_t blob;
        cr_assert_eq(rmpi__task_wire_check(rec.b, cut, SRC, &blob), -1, "%zu of %zu bytes",
                     cut, whole);
    }
    rec.len = whole;
    cr_assert_eq(check(), 0);
}

Test(wire, a_value_longer_than_the_record_is_refused)
{
    begin(TK_TASK, 0, 1);
    arg(ARGK_VALUE, -1, "abcdefgh", 8);
    rmpi_wire_arg_t *a = (rmpi_wire_arg_t *)(rec.b + sizeof(rmpi_wire_task_t));
    a->size = UINT64_MAX; /* says far more bytes follow than do */
    cr_assert_eq(check(), -1);
}

Test(wire, returns_functions_classes_and_methods_are_checked)
{
    rmpi_wire_task_t *w = begin(TK_TASK, 2, 0);
    cr_assert_eq(check(), -1, "function 2 of 2");
    w = begin(TK_TASK, 1, 0);
    w->nret = 0;
    cr_assert_eq(check(), -1, "no returns");
    w->nret = RMPI_MAX_RETURNS + 1;
    cr_assert_eq(check(), -1, "too many returns");
    w->nret = RMPI_MAX_RETURNS;
    cr_assert_eq(check(), 0);

    w = begin(TK_CALL, 1, 0);
    cr_assert_eq(check(), 0, "method 1 of class 0");
    w->fn = 2;
    cr_assert_eq(check(), -1, "method 2 of 2");
    w = begin(TK_CREATE, 0, 0);
    w->actor_hi = (uint64_t)1 << 8;
    cr_assert_eq(check(), -1, "class 1 of 1");
    w = begin(9, 0, 0);
    cr_assert_eq(check(), -1, "unknown task kind");
}
