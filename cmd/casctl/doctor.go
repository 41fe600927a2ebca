package main

import "github.com/urfave/cli/v2"

func doctorCommand(e *env) *cli.Command { return notYet("doctor", "check the store's configuration and health") }
