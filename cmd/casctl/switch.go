package main

import "github.com/urfave/cli/v2"

func switchCommand(e *env) *cli.Command { return notYet("switch", "switch the index to another store after a verified copy") }
