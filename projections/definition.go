package projections

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Table is one read table of a projection.
type Table struct {
	// Name is the logical name that reads use; it is a view onto the
	// physical table of the active version.
	Name string
	// Key lists the primary-key columns, used to compare rows.
	Key []string
}

// Definition describes a read model whose tables can be rebuilt side by side
// with the ones serving reads.
type Definition struct {
	// Name identifies the projection, such as "orders".
	Name string
	// Tables are the projection's tables.
	Tables []Table
	// Schema creates the tables of one version. It names each table as
	// {{name}} and is run once per version with the physical names filled in.
	Schema string
	// NewHandler returns a handler that writes to the given tables.
	NewHandler func(t Tables) Handler
}

// Tables maps a projection's logical table names to the physical tables of
// one version.
type Tables map[string]string

// Expand fills the {{name}} placeholders of a SQL text with physical names.
func (t Tables) Expand(sql string) string {
	for logical, physical := range t {
		sql = strings.ReplaceAll(sql, "{{"+logical+"}}", physical)
	}
	return sql
}

// tablesFor returns the physical names of version v: <name>_v<v>, or a
// scratch suffix for verification.
func (d Definition) tablesFor(suffix string) Tables {
	t := Tables{}
	for _, tb := range d.Tables {
		t[tb.Name] = tb.Name + "_" + suffix
	}
	return t
}

func versionSuffix(v int) string { return fmt.Sprintf("v%d", v) }

func (d Definition) group(v int) string { return fmt.Sprintf("%s_v%d", d.Name, v) }

// schemaHash identifies the shape of the tables, so a changed schema can be
// detected at start-up.
func (d Definition) schemaHash() string {
	sum := sha256.Sum256([]byte(d.Schema))
	return hex.EncodeToString(sum[:8])
}
