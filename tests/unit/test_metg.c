/*
 * test_metg.c - the Task Bench harness's arithmetic (bench/metg_core.c): FLOP
 * counts, the sweep, the dependency patterns and their totals, task execution
 * with input checks, and the METG(50%) computation on known inputs.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "metg_core.h"

#define US 1e-6

/* ---- FLOPs and the sweep -------------------------------------------------------- */

Test(metg_flops, per_task_is_128_iterations_plus_64)
{
    cr_assert_eq(metg_flops_per_task(0), 64);
    cr_assert_eq(metg_flops_per_task(1), 192);
    cr_assert_eq(metg_flops_per_task(1024), 128LL * 1024 + 64);
    cr_assert_eq(metg_flops_per_task(1L << 26), 128LL * (1LL << 26) + 64);
}

/* Every program links its own copy of the kernel: aligned, each runs it alike (where
 * a copy landed once halved its speed). */
Test(metg_flops, kernel_is_line_aligned)
{
    cr_assert_eq((uintptr_t)(void *)metg_kernel % 64, 0, "metg_kernel at %p",
                 (void *)metg_kernel);
}

Test(metg_flops, graph_totals)
{
    metg_graph_t g;
    metg_graph_init(&g, METG_STENCIL_1D, 2, 1000, 4096);
    cr_assert_eq(metg_total_tasks(&g), 2000);
    cr_assert_eq(metg_total_flops(&g), 2000LL * (128 * 4096 + 64));
}

Test(metg_flops, sweep_iterations)
{
    cr_assert_eq(metg_sweep_iterations(0), 1L << 26);
    cr_assert_eq(metg_sweep_iterations(1), 1L << 25);
    cr_assert_eq(metg_sweep_iterations(21), 32);
    cr_assert_eq(metg_sweep_iterations(26), 1);
    cr_assert_eq(metg_sweep_iterations(30), 1);
}

Test(metg_flops, kernel_matches_its_definition)
{
    double a[METG_NDOUBLES], b[METG_NDOUBLES];
    metg_kernel_init(a);
    memcpy(b, a, sizeof a);
    metg_kernel(a, 3);
    for (int i = 0; i < METG_NDOUBLES; i++) {
        double x = b[i];
        for (int k = 0; k < 3; k++)
            x = x * x + x;
        cr_assert_eq(a[i], x, "element %d", i);
        cr_assert(b[i] > -1.0 && b[i] < 0.0, "start values stay in (-1, 0)");
    }
}

/* ---- patterns ------------------------------------------------------------------- */

static void expect_deps(const metg_graph_t *g, long t, long p, const long *want, int n)
{
    long deps[METG_MAX_DEPS];
    int got = metg_deps(g, t, p, deps);
    cr_assert_eq(got, n, "timestep %ld point %ld: %d deps, expected %d", t, p, got, n);
    for (int i = 0; i < n; i++)
        cr_assert_eq(deps[i], want[i], "timestep %ld point %ld dep %d", t, p, i);
}

Test(metg_pattern, names)
{
    metg_pattern_t t;
    cr_assert_eq(metg_pattern_parse("stencil_1d", &t), 0);
    cr_assert_eq(t, METG_STENCIL_1D);
    cr_assert_eq(metg_pattern_parse("spread", &t), 0);
    cr_assert_eq(t, METG_SPREAD);
    cr_assert_eq(metg_pattern_parse("fft", &t), -1);
    cr_assert_str_eq(metg_pattern_name(METG_NEAREST), "nearest");
}

Test(metg_pattern, first_timestep_has_no_deps)
{
    metg_graph_t g;
    metg_graph_init(&g, METG_STENCIL_1D, 4, 10, 1);
    expect_deps(&g, 0, 1, NULL, 0);
}

Test(metg_pattern, trivial)
{
    metg_graph_t g;
    metg_graph_init(&g, METG_TRIVIAL, 4, 10, 1);
    expect_deps(&g, 3, 1, NULL, 0);
    cr_assert_eq(metg_total_deps(&g), 0);
}

Test(metg_pattern, stencil_1d)
{
    metg_graph_t g;
    metg_graph_init(&g, METG_STENCIL_1D, 4, 3, 1);
    expect_deps(&g, 1, 0, (long[]){ 0, 1 }, 2);
    expect_deps(&g, 1, 2, (long[]){ 1, 2, 3 }, 3);
    expect_deps(&g, 2, 3, (long[]){ 2, 3 }, 2);
    /* timesteps 1 and 2: 2 + 3 + 3 + 2 each */
    cr_assert_eq(metg_total_deps(&g), 20);
}

Test(metg_pattern, nearest_radix_5)
{
    metg_graph_t g;
    metg_graph_init(&g, METG_NEAREST, 10, 2, 1);
    cr_assert_eq(g.radix, 5);
    expect_deps(&g, 1, 5, (long[]){ 3, 4, 5, 6, 7 }, 5);
    expect_deps(&g, 1, 0, (long[]){ 0, 1, 2 }, 3);
    expect_deps(&g, 1, 9, (long[]){ 7, 8, 9 }, 3);
}

Test(metg_pattern, spread_radix_5)
{
    metg_graph_t g;
    metg_graph_init(&g, METG_SPREAD, 10, 5, 1);
    cr_assert_eq(g.radix, 5);
    cr_assert_eq(g.period, 2, "Task Bench's 3, capped at ceil(10 / 5)");
    /* dset 1 shifts every point but the first by 1 */
    expect_deps(&g, 1, 0, (long[]){ 0, 3, 5, 7, 9 }, 5);
    expect_deps(&g, 2, 0, (long[]){ 0, 2, 4, 6, 8 }, 5);
    expect_deps(&g, 2, 9, (long[]){ 1, 3, 5, 7, 9 }, 5);
}

Test(metg_pattern, narrow_graphs_collapse)
{
    /* width 2: stencil_1d, nearest and spread all read both points */
    metg_pattern_t types[] = { METG_STENCIL_1D, METG_NEAREST, METG_SPREAD };
    for (int k = 0; k < 3; k++) {
        metg_graph_t g;
        metg_graph_init(&g, types[k], 2, 1000, 1);
        for (long p = 0; p < 2; p++)
            expect_deps(&g, 7, p, (long[]){ 0, 1 }, 2);
        cr_assert_eq(metg_total_deps(&g), 999 * 4, "%s", metg_pattern_name(types[k]));
    }
}

Test(metg_pattern, reverse_deps_mirror_deps)
{
    metg_pattern_t types[] = { METG_TRIVIAL, METG_STENCIL_1D, METG_NEAREST, METG_SPREAD };
    for (int k = 0; k < 4; k++) {
        metg_graph_t g;
        metg_graph_init(&g, types[k], 12, 8, 1);
        for (long t = 0; t + 1 < g.steps; t++) {
            for (long q = 0; q < g.width; q++) {
                long r[METG_MAX_DEPS], d[METG_MAX_DEPS];
                int nr = metg_rdeps(&g, t, q, r);
                int count = 0;
                for (long c = 0; c < g.width; c++) {
                    int nd = metg_deps(&g, t + 1, c, d);
                    for (int i = 0; i < nd; i++)
                        count += d[i] == q;
                }
                cr_assert_eq(nr, count, "%s t %ld q %ld", metg_pattern_name(types[k]), t, q);
                for (int i = 0; i < nr; i++) {
                    int nd = metg_deps(&g, t + 1, r[i], d), found = 0;
                    for (int j = 0; j < nd; j++)
                        found |= d[j] == q;
                    cr_assert(found);
                }
            }
        }
    }
}

/* ---- executing a point ---------------------------------------------------------------- */

Test(metg_execute, tags_and_input_checks)
{
    metg_graph_t g;
    metg_graph_init(&g, METG_STENCIL_1D, 3, 10, 4);
    double in0[METG_NDOUBLES] = { 4, 0 }, in1[METG_NDOUBLES] = { 4, 1 }, out[METG_NDOUBLES];
    const double *ins[2] = { in0, in1 };
    cr_assert_eq(metg_execute_point(&g, 5, 0, ins, 2, out), 0);
    cr_assert_eq(out[0], 5.0);
    cr_assert_eq(out[1], 0.0);
    double want[METG_NDOUBLES];
    metg_kernel_init(want);
    metg_kernel(want, 4);
    cr_assert_eq(out[2], want[2]);
    cr_assert_eq(out[63], want[63]);

    in1[1] = 2; /* the output of another point */
    cr_assert_eq(metg_execute_point(&g, 5, 0, ins, 2, out), -2);
    in1[1] = 1;
    in0[0] = 3; /* of another timestep */
    cr_assert_eq(metg_execute_point(&g, 5, 0, ins, 2, out), -1);
    in0[0] = 4;
    cr_assert_neq(metg_execute_point(&g, 5, 0, ins, 1, out), 0, "missing input");
}

/* ---- METG --------------------------------------------------------------------------- */

static metg_point_t pt(long iters, double gran_us, double eff)
{
    metg_point_t p = { .iterations = iters, .reps = 1, .granularity = gran_us * US,
                       .efficiency = eff };
    return p;
}

Test(metg_compute, interpolates_to_exactly_50_percent)
{
    metg_point_t p[] = { pt(1000, 100, 0.9), pt(500, 55, 0.8), pt(250, 40, 0.6),
                         pt(125, 35, 0.3), pt(62, 33, 0.1) };
    double m;
    cr_assert_eq(metg_compute(p, 5, 0.5, &m), METG_OK);
    /* between (40 us, 0.6) and (35 us, 0.3): 35 + (0.5 - 0.3) / (0.6 - 0.3) * 5 */
    cr_assert_float_eq(m, (35 + 5.0 * 2 / 3) * US, 1e-12);
}

Test(metg_compute, order_of_points_does_not_matter)
{
    metg_point_t p[] = { pt(125, 35, 0.3), pt(1000, 100, 0.9), pt(62, 33, 0.1),
                         pt(250, 40, 0.6), pt(500, 55, 0.8) };
    double m;
    cr_assert_eq(metg_compute(p, 5, 0.5, &m), METG_OK);
    cr_assert_float_eq(m, (35 + 5.0 * 2 / 3) * US, 1e-12);
}

Test(metg_compute, exactly_at_threshold)
{
    metg_point_t p[] = { pt(1000, 100, 0.9), pt(500, 60, 0.5), pt(250, 50, 0.2) };
    double m;
    cr_assert_eq(metg_compute(p, 3, 0.5, &m), METG_OK);
    cr_assert_float_eq(m, 60 * US, 1e-12);
}

Test(metg_compute, smallest_granularity_above_wins_over_noise)
{
    /* a noisy dip at 500 iterations does not end the search: the smallest
     * granularity at or above 50% is the 250-iteration point */
    metg_point_t p[] = { pt(1000, 100, 0.9), pt(500, 90, 0.4), pt(250, 40, 0.7),
                         pt(125, 30, 0.2) };
    double m;
    cr_assert_eq(metg_compute(p, 4, 0.5, &m), METG_OK);
    /* between (40, 0.7) and (30, 0.2): 30 + 0.3 / 0.5 * 10 = 36 us */
    cr_assert_float_eq(m, 36 * US, 1e-12);
}

Test(metg_compute, next_point_with_larger_granularity_is_not_used)
{
    /* overhead-bound tail: the next point took longer per task; no interpolation */
    metg_point_t p[] = { pt(1000, 100, 0.9), pt(500, 50, 0.6), pt(250, 70, 0.1) };
    double m;
    cr_assert_eq(metg_compute(p, 3, 0.5, &m), METG_OK);
    cr_assert_float_eq(m, 50 * US, 1e-12);
}

Test(metg_compute, bounds_when_not_bracketed)
{
    double m;
    metg_point_t low[] = { pt(1000, 300, 0.4), pt(500, 200, 0.3) };
    cr_assert_eq(metg_compute(low, 2, 0.5, &m), METG_NONE_ABOVE);
    cr_assert_float_eq(m, 300 * US, 1e-12);
    metg_point_t high[] = { pt(1000, 300, 0.9), pt(500, 160, 0.8) };
    cr_assert_eq(metg_compute(high, 2, 0.5, &m), METG_NONE_BELOW);
    cr_assert_float_eq(m, 160 * US, 1e-12);
    cr_assert_eq(metg_compute(high, 0, 0.5, &m), METG_EMPTY);
}

Test(metg_compute, points_from_runs_average_the_repetitions)
{
    long iters[] = { 100, 1000, 100, 1000 };
    double elapsed[] = { 1.0, 4.0, 3.0, 6.0 };
    metg_point_t p[4];
    double peak = 1e6;
    int n = metg_points_from_runs(iters, elapsed, 4, 2000, 2, peak, p);
    cr_assert_eq(n, 2);
    cr_assert_eq(p[0].iterations, 1000, "largest first");
    cr_assert_eq(p[0].reps, 2);
    cr_assert_float_eq(p[0].elapsed, 5.0, 1e-12);
    cr_assert_float_eq(p[0].stddev, 1.0, 1e-12);
    cr_assert_float_eq(p[0].granularity, 5.0 * 2 / 2000, 1e-15);
    cr_assert_float_eq(p[0].efficiency, 2000.0 * (128 * 1000 + 64) / 5.0 / peak, 1e-9);
    cr_assert_eq(p[1].iterations, 100);
    cr_assert_float_eq(p[1].elapsed, 2.0, 1e-12);
    cr_assert_float_eq(p[1].granularity, 2.0 * 2 / 2000, 1e-15);
    cr_assert_float_eq(metg_granularity(2.0, 2, 2000), 0.002, 1e-15);
    cr_assert_float_eq(metg_efficiency(1000, 2.0, 1000.0), 0.5, 1e-15);
}

Test(metg_execute, kernel_time_is_counted_and_taken)
{
    metg_graph_t g;
    metg_graph_init(&g, METG_TRIVIAL, 2, 10, 100000);
    double out[METG_NDOUBLES];
    metg_kernel_time_take();
    cr_assert_eq(metg_kernel_time_ns(), 0);
    cr_assert_eq(metg_execute_point(&g, 0, 0, NULL, 0, out), 0);
    unsigned long long ns = metg_kernel_time_ns();
    cr_assert(ns > 0, "the kernel's time is counted");
    cr_assert_eq(metg_kernel_time_take(), ns);
    cr_assert_eq(metg_kernel_time_ns(), 0, "and reset when taken");
}
