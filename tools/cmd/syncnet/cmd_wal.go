package main

import "context"

func runWAL(ctx context.Context, args []string) error {
	return exitError{2, "not built yet (issue 6)"}
}
