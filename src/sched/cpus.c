/* The rank's CPUs, from its cpuset (hwloc). */
#include "sched.h"
#include "base/log.h"
#include "raympi.h"

#include <hwloc.h>
#include <stdio.h>
#include <string.h>

#define MOD "sched"

int rmpi__cpus_detect(char *cpuset, size_t len, int *ncores)
{
    hwloc_topology_t topo;
    hwloc_bitmap_t set;
    int n;

    if (hwloc_topology_init(&topo) != 0)
        return RMPI_ERR_INTERNAL;
    if (hwloc_topology_load(topo) != 0) {
        hwloc_topology_destroy(topo);
        return RMPI_ERR_INTERNAL;
    }
    set = hwloc_bitmap_alloc();
    if (hwloc_get_cpubind(topo, set, HWLOC_CPUBIND_PROCESS) != 0 || hwloc_bitmap_iszero(set))
        hwloc_bitmap_copy(set, hwloc_topology_get_topology_cpuset(topo));
    n = hwloc_get_nbobjs_inside_cpuset_by_type(topo, set, HWLOC_OBJ_CORE);
    if (n <= 0)
        n = hwloc_get_nbobjs_inside_cpuset_by_type(topo, set, HWLOC_OBJ_PU);
    *ncores = n > 0 ? n : 1;
    hwloc_bitmap_list_snprintf(cpuset, len, set);
    hwloc_bitmap_free(set);
    hwloc_topology_destroy(topo);
    return RMPI_OK;
}

int rmpi__cpus_intersect(const char *a, const char *b)
{
    hwloc_bitmap_t x = hwloc_bitmap_alloc(), y = hwloc_bitmap_alloc();
    int r = 0;

    if (hwloc_bitmap_list_sscanf(x, a) == 0 && hwloc_bitmap_list_sscanf(y, b) == 0)
        r = hwloc_bitmap_intersects(x, y);
    hwloc_bitmap_free(x);
    hwloc_bitmap_free(y);
    return r;
}
