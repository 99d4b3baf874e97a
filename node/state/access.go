package state

import "strings"

// CanRead reports whether user may read conversation conv: a room's
// history, tail, members and search results, or a direct conversation
// (api.DMRoom) of which user is one of the two parties. Every read path
// (exec commands, the chat app, subscriptions, search) asks this one
// function, so a rule added here (private rooms) holds everywhere at once.
func (s *State) CanRead(user, conv string) bool {
	if parties, ok := strings.CutPrefix(conv, "@"); ok {
		a, b, ok := strings.Cut(parties, ",")
		return ok && (user == a || user == b)
	}
	return true
}
