// Package chat is `syncnet chat`: a terminal chat client that fails over
// between the nodes of a SyncNet cluster.
//
// What it owns: choosing a node, the SSH connection to it (auth like
// OpenSSH, trust-on-first-use host keys in its own known_hosts file),
// receiving a room through one long-lived `tail --join --json --from LAST
// ROOM` exec session (--join: the user is a member of the room and shown
// online while connected, like a chat app user), sending through `post --id ID -- ROOM TEXT` exec sessions on
// the same connection, the send queue, and the two front ends (the bubbletea
// UI and the --batch mode for scripts).
//
// What it does not own: ordering, durability and de-duplication. Those are
// the cluster's (I4, I5, I6); the client only relies on them:
//   - resume: after a failover the new tail starts strictly after the last
//     index this client delivered, and tail --from prints exactly the
//     messages after it, so nothing is lost or shown twice; the client also
//     drops any index at or below the last one, as a second guard;
//   - exactly once: every line gets a client id (random prefix + counter)
//     when it is typed and keeps it across retries and nodes, so a post whose
//     acknowledgement was lost is stored once (I5).
//
// The core is Client (client.go): New, then Run in one goroutine, Send from
// any goroutine; callbacks report messages, connection states,
// acknowledgements and failures. It has no terminal code, so tests drive it
// against in-process sshui servers. The UI (ui.go) and batch mode (batch.go)
// are thin layers on top.
//
// Goroutines: Run owns the connection loop; per connection it starts a tail
// reader, a sender and a keepalive prober, and returns from serving when the
// first of them fails, closing the connection so the others end too.
// Callbacks are serialized (never two at once) and called in event order.
package chat
