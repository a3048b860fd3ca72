/* test_ctl_prom.c - control/ctl_prom.c: Prometheus's text format. */
#include <criterion/criterion.h>
#include <string.h>

#include "ctl_prom.h"

Test(ctl_prom, family_and_samples)
{
	char buf[512];
	struct ctl_prom w;

	ctl_prom_init(&w, buf, sizeof(buf));
	ctl_prom_family(&w, "x_total", "counter", "Things.");
	ctl_prom_u64(&w, "x_total", 18446744073709551615ull, "core=\"%u\",reason=\"%s\"", 1, "a");
	ctl_prom_u64(&w, "x_total", 0, NULL);
	ctl_prom_f64(&w, "y_seconds", 0.25, NULL);
	cr_assert(!w.full);
	cr_assert_str_eq(buf, "# HELP x_total Things.\n# TYPE x_total counter\n"
			 "x_total{core=\"1\",reason=\"a\"} 18446744073709551615\nx_total 0\n"
			 "y_seconds 0.25\n");
	cr_assert_eq(w.len, strlen(buf));
}

Test(ctl_prom, histogram_is_cumulative)
{
	static const double le[] = { 0.001, 0.01, 0.1 };
	struct ctl_prom_hist h;
	struct ctl_prom w;
	char buf[1024];

	ctl_prom_hist_init(&h, le, 3);
	ctl_prom_hist_observe(&h, 0.0005, 2);    /* le 0.001 */
	ctl_prom_hist_observe(&h, 0.01, 1);      /* le 0.01: a bound is inclusive */
	ctl_prom_hist_observe(&h, 5, 1);         /* +Inf only */
	ctl_prom_init(&w, buf, sizeof(buf));
	ctl_prom_hist_write(&w, "d_seconds", "Wait.", &h);
	cr_assert_str_eq(buf, "# HELP d_seconds Wait.\n# TYPE d_seconds histogram\n"
			 "d_seconds_bucket{le=\"0.001\"} 2\nd_seconds_bucket{le=\"0.01\"} 3\n"
			 "d_seconds_bucket{le=\"0.1\"} 3\nd_seconds_bucket{le=\"+Inf\"} 4\n"
			 "d_seconds_sum 5.0110000000000001\nd_seconds_count 4\n");
}

Test(ctl_prom, never_overflows)
{
	char buf[40];
	struct ctl_prom w;

	ctl_prom_init(&w, buf, sizeof(buf));
	ctl_prom_u64(&w, "short", 1, NULL);
	cr_assert(!w.full);
	ctl_prom_family(&w, "a_much_longer_name_total", "counter", "Does not fit.");
	cr_assert(w.full);
	cr_assert_str_eq(buf, "short 1\n", "the cut line is dropped");
	ctl_prom_u64(&w, "more", 2, NULL);
	cr_assert_str_eq(buf, "short 1\n", "nothing after full");
}
