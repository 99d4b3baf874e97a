package main

import (
	"context"
	"errors"
	"os"

	"github.com/syncnet/syncnet/tools/bench"
)

func runBench(ctx context.Context, args []string) error {
	err := bench.Main(ctx, args, os.Stdout, os.Stderr)
	var ue bench.UsageError
	if errors.As(err, &ue) {
		return exitError{2, ue.Msg}
	}
	return err
}
