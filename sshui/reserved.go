package sshui

import "slices"

// ReservedNames may not be used as chat names by anyone: they would pass
// for the system or its staff in a chat line ("root: the server restarts
// now, paste your key here"), or address everyone. admin is the one
// exception, and only for admin keys (AdminName). The list is in README and
// docs/CONTRACTS.md §3.1; change them together.
var ReservedNames = []string{
	"admin", "administrator", "root", "system", "server", "syncnet", "operator", "sysop",
	"moderator", "mod", "staff", "support", "security", "postmaster", "hostmaster", "webmaster",
	"everyone", "all", "here", "daemon",
}

// Reserved reports whether name (already normalized) is reserved.
func Reserved(name string) bool { return slices.Contains(ReservedNames, name) }
