/* test_bench_stats.c: the bench library (bench/lib): the median,
 * nearest-rank p90, ratios and number formats every bench prints, and the
 * SVG chart's text of bench/startup: its axis decades, bar widths on the
 * log scale, labels and escaping. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/bench_stats.h"
#include "strata/chart_svg.h"
#include "testutil.h"

static void test_stats_odd(void **state)
{
    (void)state;
    const double runs[] = {5, 1, 4, 2, 3};
    st_bench_stats s;
    st_error err = {0};
    assert_int_equal(st_bench_stats_compute(runs, 5, &s, &err), 0);
    assert_int_equal(s.n, 5);
    assert_true(s.median == 3);
    assert_true(s.p90 == 5); /* ceil(4.5) = 5th of 5 */
    assert_true(s.min == 1);
    assert_true(s.max == 5);
    /* the caller's order is kept: JSON prints the runs as they happened */
    assert_true(runs[0] == 5 && runs[1] == 1 && runs[4] == 3);
}

static void test_stats_even(void **state)
{
    (void)state;
    st_bench_stats s;
    const double four[] = {40, 10, 30, 20};
    assert_int_equal(st_bench_stats_compute(four, 4, &s, NULL), 0);
    assert_true(s.median == 25);
    assert_true(s.p90 == 40); /* ceil(3.6) = 4th */

    const double ten[] = {7, 3, 10, 1, 9, 2, 8, 4, 6, 5};
    assert_int_equal(st_bench_stats_compute(ten, 10, &s, NULL), 0);
    assert_true(s.median == 5.5);
    assert_true(s.p90 == 9); /* the 9th of 10 */
    assert_true(s.min == 1 && s.max == 10);

    double twenty[20];
    for (int i = 0; i < 20; i++)
        twenty[i] = 20 - i; /* 20 .. 1 */
    assert_int_equal(st_bench_stats_compute(twenty, 20, &s, NULL), 0);
    assert_true(s.median == 10.5);
    assert_true(s.p90 == 18);

    const double one[] = {17.8};
    assert_int_equal(st_bench_stats_compute(one, 1, &s, NULL), 0);
    assert_true(s.median == 17.8 && s.p90 == 17.8 && s.min == 17.8 && s.max == 17.8);
}

static void test_stats_bad(void **state)
{
    (void)state;
    st_bench_stats s;
    st_error err = {0};
    const double runs[] = {1, -2};
    assert_int_equal(st_bench_stats_compute(runs, 0, &s, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "no timings"));
    st_error_clear(&err);
    assert_int_equal(st_bench_stats_compute(runs, 2, &s, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "timing 2 is -2 ms"));
}

static void test_ratio_and_formats(void **state)
{
    (void)state;
    double r = st_bench_ratio(2345, 17.8);
    assert_true(r > 131.74 && r < 131.75);
    assert_true(st_bench_ratio(17.8, 17.8) == 1);
    assert_true(st_bench_ratio(5, 0) == 0);

    static const struct {
        double v;
        const char *ms, *ratio;
    } cases[] = {
        {0.421, "0.42", "0.42x"}, {8.314, "8.31", "8.31x"}, {9.999, "10.0", "10.0x"},
        {17.84, "17.8", "17.8x"}, {99.96, "100", "100x"},   {2345.4, "2345", "2345x"},
        {1, "1.00", "1.00x"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char ms[32], ratio[32];
        st_chart_fmt_ms(cases[i].v, ms, sizeof(ms));
        st_bench_fmt_ratio(cases[i].v, ratio, sizeof(ratio));
        assert_string_equal(ms, cases[i].ms);
        assert_string_equal(ratio, cases[i].ratio);
    }
    char tiny[4];
    st_chart_fmt_ms(123456.0, tiny, sizeof(tiny));
    assert_string_equal(tiny, "123");
}

static void test_axis(void **state)
{
    (void)state;
    int lo, hi;
    const st_chart_bar usual[] = {{"vm", 2300}, {"runc", 17.8}, {"strata-run", 9.1}};
    st_chart_svg_axis(usual, 3, &lo, &hi);
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 4);

    const st_chart_bar edges[] = {{"a", 1}, {"b", 10000}};
    st_chart_svg_axis(edges, 2, &lo, &hi);
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 4);

    const st_chart_bar wide[] = {{"a", 0.5}, {"b", 12000}};
    st_chart_svg_axis(wide, 2, &lo, &hi);
    assert_int_equal(lo, -1);
    assert_int_equal(hi, 5);

    const st_chart_bar odd[] = {{"a", 0}, {"b", 1e-9}, {"c", 1e12}};
    st_chart_svg_axis(odd, 3, &lo, &hi);
    assert_int_equal(lo, -3); /* bounded, and 0 is ignored */
    assert_int_equal(hi, 7);
}

static size_t count(const char *text, const char *what)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

static char *svg_of(const char *title, const char *subtitle, const st_chart_bar *bars, size_t n,
                    int *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    st_error err = {0};
    *r = st_chart_svg_write(f, title, subtitle, bars, n, &err);
    fclose(f);
    return text;
}

static void test_svg(void **state)
{
    (void)state;
    const st_chart_bar bars[] = {
        {"vm node (tcg)", 1000},
        {"container on host (strata-run)", 10},
        {"container on host (runc)", 100},
    };
    int r;
    char *svg = svg_of("Start-up on host <x> & y", "accel \"tcg\"", bars, 3, &r);
    assert_int_equal(r, 0);
    assert_non_null(svg);
    assert_true(strncmp(svg, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg ", 44) == 0);
    assert_non_null(strstr(svg, "xmlns=\"http://www.w3.org/2000/svg\""));
    size_t len = strlen(svg);
    assert_string_equal(svg + len - 7, "</svg>\n");
    /* the size: 84 + 3 rows of 40 for the axis, 62 below it */
    assert_non_null(strstr(svg, "width=\"960\" height=\"266\" viewBox=\"0 0 960 266\""));

    /* title and subtitle, escaped */
    assert_non_null(strstr(svg, ">Start-up on host &lt;x&gt; &amp; y</text>"));
    assert_non_null(strstr(svg, ">accel &quot;tcg&quot;</text>"));
    assert_null(strstr(svg, "<x>"));

    /* one label, bar and value per result */
    assert_non_null(strstr(svg, ">vm node (tcg)</text>"));
    assert_non_null(strstr(svg, ">container on host (strata-run)</text>"));
    assert_non_null(strstr(svg, ">container on host (runc)</text>"));
    assert_int_equal(count(svg, "<rect "), 1 + 3); /* the background, then the bars */
    assert_non_null(strstr(svg, ">1000 ms</text>"));
    assert_non_null(strstr(svg, ">10.0 ms</text>"));
    assert_non_null(strstr(svg, ">100 ms</text>"));

    /* log scale over 4 decades of 580 units: 145 a decade from x = 270 */
    assert_non_null(strstr(svg, "<rect x=\"270\" y=\"84\" width=\"435.0\" height=\"26\""));
    assert_non_null(strstr(svg, "<rect x=\"270\" y=\"124\" width=\"145.0\" height=\"26\""));
    assert_non_null(strstr(svg, "<rect x=\"270\" y=\"164\" width=\"290.0\" height=\"26\""));
    /* the value sits 6 units after the bar's end */
    assert_non_null(strstr(svg, "<text x=\"711.0\" y=\"102\""));

    /* a tick label per decade, centred on its grid line, and the axis title */
    static const char *const ticks[] = {"1", "10", "100", "1000", "10000"};
    for (int d = 0; d < 5; d++) {
        char want[128];
        snprintf(want, sizeof(want), "<text x=\"%.1f\" y=\"226\" text-anchor=\"middle\"",
                 270 + 145.0 * d);
        assert_non_null(strstr(svg, want));
        snprintf(want, sizeof(want), "fill=\"#333333\">%s</text>", ticks[d]);
        assert_non_null(strstr(svg, want));
    }
    assert_non_null(strstr(svg, ">milliseconds (log scale)</text>"));
    /* 4 decades with 8 minor lines each, 5 decades with a grid line and a
     * tick each, and the axis line */
    assert_int_equal(count(svg, "<line "), 4 * 8 + 5 * 2 + 1);
    free(svg);
}

static void test_svg_small_values(void **state)
{
    (void)state;
    /* below 1 ms the axis grows a decade, labelled 0.1 */
    const st_chart_bar bars[] = {{"fast", 0.5}, {"zero", 0}};
    int r;
    char *svg = svg_of("t", NULL, bars, 2, &r);
    assert_int_equal(r, 0);
    assert_non_null(strstr(svg, "fill=\"#333333\">0.1</text>"));
    assert_non_null(strstr(svg, ">0.50 ms</text>"));
    /* a zero still shows a sliver at the axis start */
    assert_non_null(strstr(svg, "<rect x=\"270\" y=\"124\" width=\"2.0\""));
    assert_int_equal(count(svg, "<text "), 1 + 2 * 2 + 6 + 1); /* no subtitle */
    free(svg);
}

static void test_svg_errors(void **state)
{
    (void)state;
    int r;
    char *svg = svg_of("t", NULL, NULL, 0, &r);
    assert_int_equal(r, -EINVAL);
    free(svg);

    FILE *full = fopen("/dev/full", "w");
    assert_non_null(full);
    const st_chart_bar bars[] = {{"a", 1}};
    st_error err = {0};
    assert_true(st_chart_svg_write(full, "t", NULL, bars, 1, &err) < 0);
    assert_non_null(strstr(err.msg, "cannot write the chart"));
    fclose(full);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_odd),
        cmocka_unit_test(test_stats_even),
        cmocka_unit_test(test_stats_bad),
        cmocka_unit_test(test_ratio_and_formats),
        cmocka_unit_test(test_axis),
        cmocka_unit_test(test_svg),
        cmocka_unit_test(test_svg_small_values),
        cmocka_unit_test(test_svg_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
