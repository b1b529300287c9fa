package payments_test

import (
	"testing"

	"comanda/internal/testkit"
)

// TestMain is the one entry point of this package's tests: they share one
// throwaway PostgreSQL server.
func TestMain(m *testing.M) { testkit.Main(m) }
