package main

import "github.com/urfave/cli/v2"

func verifyCommand(e *env) *cli.Command { return notYet("verify", "check that every blob is present and intact") }
