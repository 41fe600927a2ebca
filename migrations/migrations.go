package migrations

import "embed"

// FS holds every engine's migrations: sqlite/0001_init.sql, ...
//
//go:embed sqlite/*.sql postgres/*.sql
var FS embed.FS
