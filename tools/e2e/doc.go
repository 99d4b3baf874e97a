// Package e2e holds the end-to-end tests of SyncNet: they build bin/syncnet
// once with -race, start real `syncnet node` processes on loopback sockets
// bound by the harness (passed in with SYNCNET_LISTEN_FDS), drive them with
// an SSH client (golang.org/x/crypto/ssh) and `syncnet chat --batch`, and
// kill -9, SIGSTOP/SIGCONT, restart and partition them. As root, tests of
// network faults put each node in its own network namespace (partition by
// blackhole routes; UDP-only loss, deaf and mute nodes by tc drops) and
// skip, saying why, where that is not possible.
//
// Every scenario checks the invariants (docs/ARCHITECTURE.md) through the public
// contracts only (status --json, history --json, post --id):
//
//   - I1: no two leaders observed in one term (status polling);
//   - I4: every acknowledged post is present after any minority failure and
//     after a whole-cluster restart;
//   - I5: no client id appears twice;
//   - I6: every node holds the same (index, id) sequence, with Lamport times
//     growing along it;
//   - the WALs, read offline with `syncnet wal diff` and `wal export`, agree
//     and hold every acknowledged post.
//
// Environment:
//
//	SYNCNET_E2E_BIN=path        use this binary instead of building one
//	SYNCNET_E2E_LOG=debug       node log level (default info)
//	SYNCNET_CHAOS_CYCLES=N      cycles of TestChaos (default 8); make chaos: 100
//	SYNCNET_CHAOS_SEED=S        replay a chaos run
//	SYNCNET_CHAOS_ACTIONS=a,b   fault kinds of TestChaos: kill9,pause,term,pauseudp
//	SYNCNET_E2E_ROUNDS=N        repeat the trials of TestDeafNode, TestMuteNode
//	                            and TestLeaderPauseUDPLoss N times (default 1)
//	SYNCNET_E2E_BENCH=1         run the failover measurements (BENCHMARKS.txt)
//
// The package has no non-test code besides this file.
package e2e
