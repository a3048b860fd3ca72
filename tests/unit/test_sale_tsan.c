/*
 * The sale engine's thread stress (test_sale_stress.h) as a plain program, so
 * a ThreadSanitizer build can run it (Criterion cannot start there,
 * Snaipe/Criterion#274): meson setup -Db_sanitize=thread, then meson test
 * test_sale_tsan. Exits 1 and says what went wrong.
 */
#define SALE_STRESS_PLAIN
#include "test_sale_stress.h"

int main(void)
{
	stress_run(2, false);
	stress_run(4, false);
	stress_run(4, true);
	printf("test_sale_tsan: 3 runs of %u requests for %u units: ok\n", ST_REQUESTS, ST_STOCK);
	return 0;
}
