package main

import (
	"embed"

	"comanda/internal/sqlfile"
)

//go:embed queries/*.sql
var queryFiles embed.FS

// query returns the text of one of the engine command's embedded SQL files.
var query = sqlfile.Loader(queryFiles)
