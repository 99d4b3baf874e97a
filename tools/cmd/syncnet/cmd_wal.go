package main

import (
	"context"
	"errors"
	"os"

	walcmd "github.com/syncnet/syncnet/tools/wal"
)

// runWAL runs `syncnet wal …`, the offline audit tools (tools/wal).
func runWAL(ctx context.Context, args []string) error {
	err := walcmd.Main(ctx, args, os.Stdout, os.Stderr)
	var ee *walcmd.ExitError
	if errors.As(err, &ee) {
		return exitError{ee.Code, ee.Msg}
	}
	return err
}
