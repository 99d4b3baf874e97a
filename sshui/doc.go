// Package sshui is SyncNet's SSH front end: the wish server on each node's
// ssh_port, public-key identity, the bubbletea chat app for interactive
// sessions, and the exec commands (status, post, history, tail, rooms, who,
// room, keys, notify; for admins bans, unban, unmute, release). Every read
// of a room asks the Backend's CanRead (access.go).
//
// # Owns / does not own
//
// Owns: SSH listening, authentication and identity decisions, session caps,
// keepalives, the per-node session hub, terminal rendering, the sanitizers
// that every shown string passes through (Clean for one line, CleanText for
// message text, which keeps its line breaks), per-user rate limits on
// posting, exec command parsing (cmdline.go: the raw command line, split by
// spaces in linear time, never by a shell-word parser) and output formats (the JSON shapes of
// status --json and history/tail --json are contracts, docs/CONTRACTS.md §3).
//
// Does not own: protocol logic, nor the domain types. Of ours it imports only
// node/api (never node, node/state, ring or eventlog): everything it knows
// about the cluster comes through api.Backend, which node implements, and is
// described by api's types (Message, Event, ClusterStatus, Refusal, ...).
// Replication, commit, idempotency on client message ids (I5), ordering (I6),
// name-binding races, ban/mute state and presence aggregation across nodes
// are the Backend's. Who builds the server and the node and starts them in
// order is the program's business (tools/cmd/syncnet), not sshui's nor
// node's.
//
// # Middleware order
//
// wish runs the LAST middleware of a list first, and recover.Middleware
// composes its arguments the same way. The list in server.go, read
// outermost to innermost:
//
//	recover   (wish v1.4.7 recover only guards what is passed to it, so
//	           everything is passed to it)
//	logging   a connect line per session, except a one-shot post that is
//	          not its connection's first session (counted; the connection's
//	          end logs the count); a disconnect line for chat sessions and
//	          exec sessions of a second or more; caches s.Pty() once (data
//	          race in charmbracelet/ssh's Pty, docs/DEPENDENCIES.md §2.6)
//	limits    key required; caps per node and per key; refuses a command
//	          line over MaxCommandLine (64 KiB) before anything parses it;
//	          refuses while shutting down; starts the connection's keepalive
//	identity  name from s.User(), key from s.PublicKey() — never what the
//	          auth handler saw (§2.2); "admin" only for admin keys; other
//	          reserved names refused (reserved.go); bans; a key that is not
//	          one of a bound name's keys (HasKey) is refused; binds nothing: the chat app, post and
//	          tail --join claim the name on first use (Server.claim)
//	router    PTY + no command → chat; otherwise one exec command, read from
//	          s.RawCommand() by cmdLine (s.Command() would shell-split); its own
//	          recover prints "internal error" and exits 1
//	chat      the chat model (a bubbletea Model) in our own program
//	          (program.go, tea.go), not bubbletea's Program nor its
//	          renderer: frameModel (screen.go) draws only what changed, only
//	          when something changed; no frame ticker, so idle costs nothing
//
// TestMiddlewareOrder and TestWrongKeyNeverReachesCommandOrApp prove it.
// The PublicKeyHandler accepts any well-formed key; keyboard-interactive is
// answered with a one-line hint (ssh-keygen -t ed25519) and refused;
// password auth is not offered.
//
// # Goroutines and their owners
//
//   - the session's handler (one per chat session, the library's): runs
//     program.Run, which reads the terminal, decodes its keys (keys.go) and
//     updates the model under frameModel's lock; it is what bubbletea's
//     event loop, command loop and input reader (three goroutines) did.
//   - Hub.Run (one per server): owns the Backend subscription (Filter{}) and
//     the 1 s Status poll; fans events out with non-blocking sends, one
//     boxed message shared by every session. Presence changes, and joins and
//     leaves of rooms above HubConfig.LargeRoom members, are not sent one by
//     one (that was N² work in a connect storm): each tick sends the latest
//     MembersMsg (counters; each session shows "12 people joined" since the
//     last it had and reloads its members pane from the hub's shared
//     Members cache) to the next 200 sessions in turn that lack it, so the
//     redraws it causes are bounded and even. Ends at Shutdown. A dropped
//     subscription is renewed and every session resyncs.
//   - Client.pump (at most one per chat session, while it has work and
//     pumpLinger, a minute, after): the only caller of that session's
//     p.Send; it applies hub events to the app in batches under
//     frameModel's lock and draws every frame (screen.go), so an event
//     costs no switch to another goroutine. Started by whatever queues
//     work for it; gone for good after Unregister. An idle session holds
//     none (its stack is the deepest of a session's).
//   - Client.watchWindow (one per PTY session): forwards window sizes to
//     the pump and drains the channel until the session closes it
//     (docs/DEPENDENCIES.md §2.6).
//   - keepalive (per connection, no goroutine between probes): a timer
//     sends keepalive@openssh.com every interval; no reply within one
//     interval closes the connection.
//   - tea.Cmds: each in a goroutine of its own (program.exec), which sends
//     its result to the model. Backend writes (Post, JoinRoom, …) run so,
//     with PostTimeout; so do older-page History reads for PgUp (they may
//     read the WAL on disk): at most one per conversation, merged by
//     onOlderPage into the conversation it was read for. The first page of
//     a conversation (HistoryOnJoin) and a resync's HistoryAfter are read
//     in Update; a resync that fails retries every 2 s from where it was.
//   - presence updates: short-lived, on a session's first open and last
//     close on this node.
//
// Lock order: frameModel.mu, then Hub.mmu (the members cache, which calls
// Backend.Members) or lockedWriter's (frames and bells). The hub never
// takes a session's lock and never blocks on a session.
//
// # Bounded everything
//
// Per-session hub queue (SessionQueue, 64): a full queue drops the event
// and marks the session lagged; it resyncs from HistoryAfter, deduplicating
// by index, so a stalled terminal never slows anyone and loses nothing.
// Message length (MaxMessageLen runes), rate (RateLimit/RateBurst per user),
// sessions (MaxSessions, MaxSessionsPerKey), window size (1000×500), loaded
// lines per conversation (1000; PgUp reloads, a page of 100 at a time),
// tail subscription (1024).
//
// # History that cannot be read
//
// History and HistoryAfter fail when the node cannot read its own log;
// nothing is lost. exec history and tail print the error and exit 1 (tail
// names the --from index to resume at). The chat app shows it as one line
// and keeps working: a first page that fails leaves the conversation empty
// (PgUp reads it again), an older page that fails is shown at the top of
// the pane (PgUp retries), and a failed resync keeps its position, holds
// back that conversation's live lines (they come after the gap) and
// retries, so lines are never skipped or shown out of order.
//
// # The caller's duties, in order
//
//  1. Build the Backend (a node.Node), then New(cfg, backend).
//  2. go Serve().
//  3. Report Server.Sessions() as this node's clients in Status.
//  4. On stop: Shutdown(ctx) (quits every chat program through the hub,
//     ends exec commands, waits for sessions, closes connections), THEN
//     close the Backend and the WAL.
package sshui
