package main

import "github.com/urfave/cli/v2"

func importCommand(e *env) *cli.Command { return notYet("import", "import an existing collection of files") }
