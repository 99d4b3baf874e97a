// Package api is the contract between a node and its front ends: the types,
// the Backend interface and the errors.
//
// A node (package node) implements Backend; its replicated state (node/state)
// produces the Events, Messages and Refusals defined here; front ends
// (sshui, the SSH server) and the offline tools (tools/wal) consume them.
// Keeping them here, and not in the UI or the log, lets each of those import
// the contract without importing each other: the audit tools build without
// the SSH stack, and the node without the UI.
//
// The package imports nothing of ours and nothing outside the standard
// library. It holds data types, the interface and small pure helpers that
// belong to them (DMRoom, Filter.Match, Refusal.Error); no behaviour of a
// node or of a front end.
package api
