/* sched/cpus.c: the process's cpuset and cpuset list strings. */
#include "sched/sched.h"
#include "raympi.h"

#include <criterion/criterion.h>
#include <string.h>

Test(cpus, detect_finds_a_core_and_a_cpuset)
{
    char set[1024] = "";
    int ncores = 0;

    cr_assert_eq(rmpi__cpus_detect(set, sizeof(set), &ncores), RMPI_OK);
    cr_assert_geq(ncores, 1);
    cr_assert_gt(strlen(set), 0, "empty cpuset list");
}

Test(cpus, detected_cpuset_intersects_itself)
{
    char set[1024] = "";
    int ncores = 0;

    cr_assert_eq(rmpi__cpus_detect(set, sizeof(set), &ncores), RMPI_OK);
    cr_assert(rmpi__cpus_intersect(set, set), "\"%s\"", set);
}

Test(cpus, overlapping_ranges_intersect)
{
    cr_assert(rmpi__cpus_intersect("0-1", "1-3"));
    cr_assert(rmpi__cpus_intersect("1-3", "0-1"));
}

Test(cpus, disjoint_cpus_do_not_intersect)
{
    cr_assert_not(rmpi__cpus_intersect("0", "1"));
    cr_assert_not(rmpi__cpus_intersect("0-3", "4-7"));
}

Test(cpus, lists_with_several_ranges)
{
    cr_assert(rmpi__cpus_intersect("0-3,8", "8"));
    cr_assert(rmpi__cpus_intersect("0,2,4", "3-4"));
    cr_assert_not(rmpi__cpus_intersect("0,2,4", "1,3,5"));
}

Test(cpus, empty_list_intersects_nothing)
{
    cr_assert_not(rmpi__cpus_intersect("", "0-3"));
}

Test(cpus, invalid_list_intersects_nothing)
{
    cr_assert_not(rmpi__cpus_intersect("abc", "0-3"));
}
