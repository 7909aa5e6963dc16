/*
 * test_transports.c - ranks on one node talk over shared memory: on the
 * driver, rmpi_peer_transports(1, ...) names posix, sysv or cma, not only tcp.
 * Every peer reports some transport, and bad ranks are refused.  Needs two
 * ranks or more (skipped otherwise); all ranks of the tests share one node.
 */
#include "testlib.h"

static int has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
            return 1;
    return 0;
}

static void check_shared_memory(void)
{
    char buf[256];
    /* Use the endpoint first, with a large object too. */
    rmpi_arg_t a[2] = { rmpi_i64(1 << 20), rmpi_i64(1) };
    rmpi_ref_t r = tl_submit("tl_pattern", a, 2, 1);
    rmpi_view_t v;
    CHECK_OK(rmpi_get(r, -1, &v));
    rmpi_view_release(&v);
    CHECK_OK(rmpi_release(r));

    memset(buf, 'x', sizeof buf);
    CHECK_OK(rmpi_peer_transports(1, buf, sizeof buf));
    CHECK(memchr(buf, '\0', sizeof buf) != NULL);
    printf("  rank 0 -> rank 1: %s\n", buf);
    CHECK_MSG(has_word(buf, "posix") || has_word(buf, "sysv") || has_word(buf, "cma"),
              "no shared-memory transport to rank 1 on the same node: \"%s\"", buf);
}

static void check_every_peer(void)
{
    char buf[256];
    for (int rank = 0; rank < rmpi_size(); rank++) {
        CHECK(tl_take_i64(tl_submit("tl_where", NULL, 0, rank)) == rank);
        buf[0] = '\0';
        CHECK_OK(rmpi_peer_transports(rank, buf, sizeof buf));
        printf("  rank 0 -> rank %d: %s\n", rank, buf);
        if (rank > 0)
            CHECK(buf[0] != '\0');
    }
    CHECK_STATUS(rmpi_peer_transports(rmpi_size(), buf, sizeof buf), RMPI_ERR_INVALID_RANK);
    CHECK_STATUS(rmpi_peer_transports(-1, buf, sizeof buf), RMPI_ERR_INVALID_RANK);
}

int main(int argc, char **argv)
{
    tl_start(&argc, &argv);
    if (rmpi_size() < 2)
        tl_skip("needs two ranks");
    RUN(check_shared_memory);
    RUN(check_every_peer);
    return tl_end();
}
