package serve

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/syncnet/syncnet/node/config"
	gossh "golang.org/x/crypto/ssh"
)

// Adopted is what AdoptLocalAdminKeys found.
type Adopted struct {
	// Skipped says why nothing was adopted ("" when it looked): admin keys
	// are configured, or a node is not on loopback.
	Skipped string
	// Keys are the adopted authorized_keys lines, From the files they came
	// from, Searched the glob looked at.
	Keys     []string
	From     []string
	Searched string
	Count    int
	// File is where `up` wrote them for its nodes ("" if it did not).
	File string
}

// LocalAdminKeys is the loopback convenience shared by `syncnet up` and a
// node started by hand: with no admin keys configured and every node on
// loopback, the public keys in ~/.ssh/*.pub of the user running it are
// admin keys, so `ssh -p 2223 admin@localhost status` works on a fresh
// checkout. It is never done for a cluster reachable from other machines.
func LocalAdminKeys(cfg *config.Config) (Adopted, error) {
	lines, err := cfg.AdminKeyLines()
	if err != nil {
		return Adopted{}, err
	}
	switch {
	case len(lines) > 0:
		return Adopted{Skipped: "admin keys configured"}, nil
	case !cfg.Loopback():
		return Adopted{Skipped: "not every node is on loopback"}, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return Adopted{Skipped: "no home directory"}, nil
	}
	a := Adopted{Searched: filepath.Join(home, ".ssh", "*.pub")}
	pubs, _ := filepath.Glob(a.Searched)
	for _, p := range pubs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		took := false
		for _, l := range strings.Split(string(b), "\n") {
			l = strings.TrimSpace(l)
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			if _, _, _, _, err := gossh.ParseAuthorizedKey([]byte(l)); err != nil {
				continue // not a key (a certificate request, a typo): skip it
			}
			a.Keys = append(a.Keys, l)
			took = true
		}
		if took {
			a.From = append(a.From, p)
		}
	}
	a.Count = len(a.Keys)
	return a, nil
}

// AdoptLocalAdminKeys does LocalAdminKeys for `syncnet up` and writes the
// keys to <data_dir>/adopted_admin_keys (mode 0600), the file it passes to
// every node with --extra-admin-keys.
func AdoptLocalAdminKeys(cfg *config.Config) (Adopted, error) {
	a, err := LocalAdminKeys(cfg)
	if err != nil || a.Count == 0 {
		return a, err
	}
	if err := os.MkdirAll(cfg.DataDir(), 0o700); err != nil {
		return a, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(cfg.DataDir(), "adopted_admin_keys")
	if err := os.WriteFile(path, []byte(strings.Join(a.Keys, "\n")+"\n"), 0o600); err != nil {
		return a, fmt.Errorf("write %s: %w", path, err)
	}
	a.File, _ = filepath.Abs(path)
	return a, nil
}
