/* test_refresher.c: how long mountcached keeps a brief request (a fresh
 * process's second read, first.c) waiting for a capture under way
 * (cache/daemon/refresher.c, mcd_brief_capture_until()). Whatever the
 * moment it is judged at, the wait ends by the arrival plus 5/8 of a read,
 * so that a capture that then tears costs the process at most ~1.6 reads;
 * a capture due later than half a read after the arrival is never waited
 * for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "daemon/refresher.h"

#define MS 1000000ull

/* Every start of the capture from 2 reads before the arrival to 1 after,
 * judged at every moment from the arrival to 2 reads after it. */
static void wait_bounded(void **state)
{
	(void)state;
	const uint64_t cost = 8 * MS, arrival = 1000 * MS, step = MS / 4;
	unsigned waited = 0, declined = 0;
	for (uint64_t busy = arrival - 2 * cost; busy <= arrival + cost; busy += step) {
		uint64_t end = busy + cost;
		for (uint64_t now = arrival; now <= arrival + 2 * cost; now += step) {
			uint64_t until = mcd_brief_capture_until(busy, cost, arrival, now);
			if (!until) {
				declined++;
				continue;
			}
			waited++;
			assert_true(now < until);
			assert_true(until <= arrival + cost / 2 + cost / 8);
			assert_true(end <= arrival + cost / 2);     /* only for one due soon */
			assert_true(until <= end + cost / 8);
		}
	}
	assert_true(waited > 0 && declined > 0);
}

/* A capture begun after the request came is a read away: declined at
 * once, and at any later moment. */
static void later_capture_declined(void **state)
{
	(void)state;
	const uint64_t cost = 12 * MS, arrival = 500 * MS;
	for (uint64_t now = arrival; now < arrival + 2 * cost; now += MS / 8)
		assert_int_equal(mcd_brief_capture_until(arrival + MS / 10, cost, arrival, now), 0);
}

/* One nearly done is waited for, a little past its expected end. */
static void nearly_done_waited(void **state)
{
	(void)state;
	const uint64_t cost = 8 * MS, arrival = 500 * MS, busy = arrival - 6 * MS;
	assert_int_equal(mcd_brief_capture_until(busy, cost, arrival, arrival), busy + cost + cost / 8);
	assert_int_equal(mcd_brief_capture_until(busy, cost, arrival, busy + cost + cost / 8), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(wait_bounded),
		cmocka_unit_test(later_capture_declined),
		cmocka_unit_test(nearly_done_waited),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
