package sqlfile_test

import (
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"comanda/internal/sqlfile"
)

func TestLoader_ReturnsTheFileAndPanicsOnAMissingOne(t *testing.T) {
	query := sqlfile.Loader(fstest.MapFS{"queries/one.sql": {Data: []byte("SELECT 1")}})
	require.Equal(t, "SELECT 1", query("one"))
	require.PanicsWithValue(t, "BUG: missing embedded query two", func() { query("two") })
}
