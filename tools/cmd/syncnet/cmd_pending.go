package main

import "context"

func runChat(ctx context.Context, args []string) error {
	return exitError{2, "not built yet (issue 7)"}
}

func runBench(ctx context.Context, args []string) error {
	return exitError{2, "not built yet (issue 5)"}
}
