package httpapi_test

import (
	"testing"

	"comanda/internal/testkit"
)

// TestMain is the one entry point of this package's tests, whichever file
// they are in: they share one throwaway PostgreSQL server.
func TestMain(m *testing.M) { testkit.Main(m) }
