// Package benchsize lets every benchmark run as a smoke test: with
// LOOM_BENCH_SMOKE set (make test does), benchmarks take their small
// sizes, so one iteration of each proves it still runs against today's
// code (a benchmark nobody runs rots) without the minutes the real sizes
// take. Figures from a smoke run mean nothing.
package benchsize

import "os"

// Env is the variable that asks for smoke sizes.
const Env = "LOOM_BENCH_SMOKE"

// Smoke says whether benchmarks run as smoke tests.
func Smoke() bool { return os.Getenv(Env) != "" }

// Pick is full, or smoke in a smoke run.
func Pick[T any](full, smoke T) T {
	if Smoke() {
		return smoke
	}
	return full
}
