/* svg.c: the SVG bar chart of `bench/startup --svg` and of the dashboard
 * (GET /strata/v1/bench/startup.svg). Start-up times of VMs
 * and containers differ by three orders of magnitude, so the chart's axis is
 * logarithmic: on a linear one every container bar would be a sliver next to
 * the VM's. */
#include "strata/chart_svg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>

/* Layout, in SVG user units (pixels when shown at 100%). */
#define SVG_WIDTH  960
#define SVG_PLOT_X 270 /* bars start here; labels end left of it */
#define SVG_PLOT_W 580 /* the rest keeps room for the value at a bar's end */
#define SVG_TOP    84  /* first bar */
#define SVG_BAR_H  26
#define SVG_ROW    40
#define SVG_FONT   "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""
/* The axis always spans these decades (1 ms .. 10 s); wider only when a
 * value needs it, and never absurdly so. */
#define AXIS_LO_DEFAULT 0
#define AXIS_HI_DEFAULT 4
#define AXIS_LO_MIN     -3
#define AXIS_HI_MAX     7

static const char *const bar_colors[] = {"#4e79a7", "#f28e2b", "#59a14f",
                                         "#e15759", "#76b7b2", "#b07aa1"};

void st_chart_fmt_ms(double ms, char *buf, size_t len)
{
    if (ms < 9.995)
        snprintf(buf, len, "%.2f", ms);
    else if (ms < 99.95)
        snprintf(buf, len, "%.1f", ms);
    else
        snprintf(buf, len, "%.0f", ms);
}

static double pow10_of(int d)
{
    double p = 1;
    for (int i = 0; i < d; i++)
        p *= 10;
    for (int i = 0; i > d; i--)
        p /= 10;
    return p;
}

/* floor and ceil of a logarithm, forgiving the last bits of rounding so
 * that 1000 ms is decade 3 on both sides. */
static int floor_of(double l)
{
    l += 1e-9;
    int i = (int)l;
    return l < i ? i - 1 : i;
}

static int ceil_of(double l)
{
    l -= 1e-9;
    int i = (int)l;
    return l > i ? i + 1 : i;
}

void st_chart_svg_axis(const st_chart_bar *bars, size_t n, int *lo, int *hi)
{
    *lo = AXIS_LO_DEFAULT;
    *hi = AXIS_HI_DEFAULT;
    for (size_t i = 0; i < n; i++) {
        double v = bars[i].value_ms;
        if (!(v > 0) || isinf(v) || isnan(v))
            continue;
        double l = log10(v);
        if (floor_of(l) < *lo)
            *lo = floor_of(l) < AXIS_LO_MIN ? AXIS_LO_MIN : floor_of(l);
        if (ceil_of(l) > *hi)
            *hi = ceil_of(l) > AXIS_HI_MAX ? AXIS_HI_MAX : ceil_of(l);
    }
}

/* x of a value on the axis; values outside it are drawn at its ends. */
static double axis_x(double v, int lo, int hi)
{
    double l = !(v > 0) ? lo : isinf(v) ? hi : log10(v);
    if (l < lo)
        l = lo;
    if (l > hi)
        l = hi;
    return SVG_PLOT_X + (l - lo) / (hi - lo) * SVG_PLOT_W;
}

static void put_escaped(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&apos;", out);
            break;
        default:
            fputc(*s, out);
        }
    }
}

/* "1", "10", "10000" for decades from 0; "0.1", "0.01" below. */
static void decade_label(int d, char *buf, size_t len)
{
    if (d >= 0)
        snprintf(buf, len, "%.0f", pow10_of(d));
    else
        snprintf(buf, len, "%.*f", -d, pow10_of(d));
}

static void svg_axis(FILE *out, int lo, int hi, int y_top, int y_axis)
{
    /* minor grid lines at 2..9 of each decade, then the decades */
    for (int d = lo; d < hi; d++)
        for (int k = 2; k <= 9; k++) {
            double x = axis_x(k * pow10_of(d), lo, hi);
            fprintf(out,
                    "  <line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#eeeeee\" "
                    "stroke-width=\"1\"/>\n",
                    x, y_top, x, y_axis);
        }
    for (int d = lo; d <= hi; d++) {
        double x = axis_x(pow10_of(d), lo, hi);
        char label[32];
        decade_label(d, label, sizeof(label));
        fprintf(out,
                "  <line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#cccccc\" "
                "stroke-width=\"1\"/>\n"
                "  <line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333333\" "
                "stroke-width=\"1\"/>\n"
                "  <text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\" " SVG_FONT
                " fill=\"#333333\">%s</text>\n",
                x, y_top, x, y_axis, x, y_axis, x, y_axis + 6, x, y_axis + 22, label);
    }
    fprintf(out,
            "  <line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333333\" "
            "stroke-width=\"1\"/>\n"
            "  <text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\" " SVG_FONT
            " fill=\"#333333\">milliseconds (log scale)</text>\n",
            SVG_PLOT_X, y_axis, SVG_PLOT_X + SVG_PLOT_W, y_axis, SVG_PLOT_X + SVG_PLOT_W / 2,
            y_axis + 44);
}

int st_chart_svg_write(FILE *out, const char *title, const char *subtitle, const st_chart_bar *bars,
                       size_t n, st_error *err)
{
    if (n == 0)
        return st_error_set(err, EINVAL, "no results to chart");
    int lo, hi;
    st_chart_svg_axis(bars, n, &lo, &hi);
    int y_axis = SVG_TOP + (int)n * SVG_ROW;
    int height = y_axis + 62;
    fprintf(out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\">\n"
            "  <rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
            SVG_WIDTH, height, SVG_WIDTH, height, SVG_WIDTH, height);
    fprintf(out, "  <text x=\"20\" y=\"32\" font-size=\"19\" font-weight=\"bold\" " SVG_FONT
                 " fill=\"#111111\">");
    put_escaped(out, title);
    fputs("</text>\n", out);
    if (subtitle) {
        fprintf(out, "  <text x=\"20\" y=\"56\" font-size=\"13\" " SVG_FONT " fill=\"#555555\">");
        put_escaped(out, subtitle);
        fputs("</text>\n", out);
    }
    svg_axis(out, lo, hi, SVG_TOP - 10, y_axis);
    for (size_t i = 0; i < n; i++) {
        int y = SVG_TOP + (int)i * SVG_ROW;
        double x_end = axis_x(bars[i].value_ms, lo, hi);
        double w = x_end - SVG_PLOT_X;
        if (w < 2)
            w = 2; /* a value at the axis start still shows a bar */
        char value[32];
        st_chart_fmt_ms(bars[i].value_ms, value, sizeof(value));
        fprintf(out,
                "  <text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"14\" " SVG_FONT
                " fill=\"#111111\">",
                SVG_PLOT_X - 10, y + SVG_BAR_H / 2 + 5);
        put_escaped(out, bars[i].label);
        fprintf(out,
                "</text>\n"
                "  <rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n"
                "  <text x=\"%.1f\" y=\"%d\" font-size=\"14\" " SVG_FONT
                " fill=\"#111111\">%s ms</text>\n",
                SVG_PLOT_X, y, w, SVG_BAR_H,
                bar_colors[i % (sizeof(bar_colors) / sizeof(bar_colors[0]))], SVG_PLOT_X + w + 6,
                y + SVG_BAR_H / 2 + 5, value);
    }
    fputs("</svg>\n", out);
    if (fflush(out) != 0 || ferror(out))
        return st_error_sys(err, errno ? errno : EIO, "cannot write the chart");
    return 0;
}
