package main

import "github.com/urfave/cli/v2"

func initCommand(e *env) *cli.Command { return notYet("init", "create a bucket with the right settings") }
