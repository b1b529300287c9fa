// Package sqlfile reads the SQL that a package keeps in queries/*.sql files
// embedded in the binary. It is for the engine's own packages; it runs no
// queries.
package sqlfile

import "io/fs"

// Loader returns a function that returns the text of queries/<name>.sql in
// files. A name with no file is a bug in the calling package and panics.
func Loader(files fs.FS) func(name string) string {
	return func(name string) string {
		b, err := fs.ReadFile(files, "queries/"+name+".sql")
		if err != nil {
			panic("BUG: missing embedded query " + name)
		}
		return string(b)
	}
}
