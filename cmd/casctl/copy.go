package main

import "github.com/urfave/cli/v2"

func copyCommand(e *env) *cli.Command { return notYet("copy", "copy blobs to another store, verified") }
