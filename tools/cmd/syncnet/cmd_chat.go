package main

import (
	"context"
	"errors"
	"os"

	"github.com/syncnet/syncnet/tools/chat"
)

func runChat(ctx context.Context, args []string) error {
	err := chat.Main(ctx, args, chat.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	var ue chat.UsageError
	if errors.As(err, &ue) {
		return exitError{2, ue.Msg}
	}
	return err
}
