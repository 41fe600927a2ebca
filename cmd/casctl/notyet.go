package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"
)

// errNotYet marks a command whose issue has not landed yet.
var errNotYet = errors.New("not implemented yet")

func notYet(name, usage string) *cli.Command {
	return &cli.Command{
		Name: name, Usage: usage, Hidden: true,
		Action: func(c *cli.Context) error { return fmt.Errorf("%s: %w", name, errNotYet) },
	}
}
