package projections_test

import (
	"os"
	"strconv"
)

// benchRate is the write rate of the lag benchmark: BENCH_LAG_RATE events
// per second (scripts/bench.sh sets it to half the measured append rate),
// 2000 by default.
func benchRate() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_LAG_RATE")); err == nil && n > 0 {
		return n
	}
	return 2000
}
