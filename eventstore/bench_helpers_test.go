package eventstore_test

import (
	"sync"
	"sync/atomic"
	"testing"
)

// runWorkers runs b.N calls of fn spread over a fixed number of goroutines.
func runWorkers(b *testing.B, workers int, fn func()) {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				fn()
			}
		}()
	}
	wg.Wait()
}
