package certs

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Store holds a node's credentials and reloads them from their files
// (SIGHUP): a TLS handshake reads Current, so a reload takes effect on the
// next connection while established ones go on.
type Store struct {
	paths Paths
	id    string
	mu    sync.Mutex // serialises reloads
	cur   atomic.Pointer[Creds]
}

// Open loads node id's credentials from p (Load) into a Store.
func Open(p Paths, id string, now time.Time) (*Store, error) {
	c, err := Load(p, id, now)
	if err != nil {
		return nil, err
	}
	s := &Store{paths: p, id: id}
	s.cur.Store(c)
	return s, nil
}

// Fixed is a Store of credentials already loaded (tests); Reload reads
// their files again.
func Fixed(c *Creds) *Store {
	s := &Store{paths: Paths{CA: c.CAPath, Cert: c.CertPath, Key: c.KeyPath}, id: c.ID}
	s.cur.Store(c)
	return s
}

// Current is the credentials in use.
func (s *Store) Current() *Creds { return s.cur.Load() }

// ID is the node these credentials are for.
func (s *Store) ID() string { return s.id }

// Reload reads the files again and, only if they load and check (Load),
// puts them in use. On an error the credentials in use stay as they were.
// It reports what changed, in words for the log ("" when the files hold
// what was in use).
func (s *Store) Reload(now time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next, err := Load(s.paths, s.id, now)
	if err != nil {
		return "", fmt.Errorf("peer credentials not reloaded, the old ones stay in use: %w", err)
	}
	old := s.cur.Swap(next)
	if same(old, next) {
		return "", nil
	}
	return fmt.Sprintf("certificate serial %s -> %s (expires %s), CA bundle %d -> %d certificate(s)",
		old.Cert.Leaf.SerialNumber.Text(16), next.Cert.Leaf.SerialNumber.Text(16),
		next.NotAfter().UTC().Format(time.RFC3339), len(old.CAs), len(next.CAs)), nil
}

func same(a, b *Creds) bool {
	if !bytes.Equal(a.Cert.Leaf.Raw, b.Cert.Leaf.Raw) || len(a.CAs) != len(b.CAs) {
		return false
	}
	for i := range a.CAs {
		if !bytes.Equal(a.CAs[i].Raw, b.CAs[i].Raw) {
			return false
		}
	}
	return true
}
