package main

import (
	"context"
	"errors"
	"os"

	"github.com/syncnet/syncnet/tools/fill"
)

// runFill runs `syncnet fill …`: data directories holding N committed
// messages, for tests and benchmarks (tools/fill).
func runFill(ctx context.Context, args []string) error {
	err := fill.Main(ctx, args, os.Stdout, os.Stderr)
	var ue fill.UsageError
	if errors.As(err, &ue) {
		return exitError{2, ue.Msg}
	}
	return err
}
