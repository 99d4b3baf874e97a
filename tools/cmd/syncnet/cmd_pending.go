package main

import "context"

func runBench(ctx context.Context, args []string) error {
	return exitError{2, "not built yet (issue 5)"}
}
