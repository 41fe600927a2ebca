package main

import "github.com/urfave/cli/v2"

func indexCommand(e *env) *cli.Command { return notYet("index", "manage the transaction index") }
