package main

import "embed"

//go:embed queries/*.sql
var queryFiles embed.FS

// query returns the text of an embedded SQL file; a missing file is a bug.
func query(name string) string {
	b, err := queryFiles.ReadFile("queries/" + name + ".sql")
	if err != nil {
		panic("BUG: missing embedded query " + name)
	}
	return string(b)
}
