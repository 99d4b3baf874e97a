// Package bench is `syncnet bench`: a load generator for one SyncNet node.
//
// What it owns: opening many SSH sessions with a PTY the way a person's
// terminal does (each a distinct user with its own in-memory ed25519 key,
// which the server binds to the name on first use; DA1/OSC 11 queries are
// answered), posting messages that carry unique tokens (typed into the chat
// app, or through `post` exec sessions), finding every token in every other
// session's screen output (ANSI stripped), and reporting connect times,
// deliveries and their latency, and — given the server's pid — the server's
// CPU per delivered message copy and resident memory per session from /proc.
//
// What it does not own: the server. It only talks SSH to --addr, which must
// be a loopback address.
//
// Invariants: bounded in sessions (MaxSessions), messages and time (every
// phase has a deadline; Run always returns); a token counts once per
// session; only tokens of this run (a random run id is in every token) are
// counted, so history from earlier runs is ignored.
//
// Phases, in order: connect (at --ramp sessions/s), settle and measure
// memory, post for --duration at --rate, drain (wait for outstanding
// deliveries, at most Drain), measure CPU, close everything.
package bench
