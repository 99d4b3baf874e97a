package chat

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// KnownHosts remembers node host keys in an OpenSSH known_hosts file of the
// client's own (trust on first use): an unknown host's key is recorded, a
// known host must present a recorded key, and a changed key is refused with
// a HostKeyChangedError naming the file and line.
type KnownHosts struct {
	path string
	mu   sync.Mutex
}

// DefaultKnownHostsPath is ~/.config/syncnet/known_hosts.
func DefaultKnownHostsPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("known hosts: %w", err)
	}
	return filepath.Join(dir, "syncnet", "known_hosts"), nil
}

// OpenKnownHosts uses path, creating it (and its directory) if missing.
func OpenKnownHosts(path string) (*KnownHosts, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("known hosts: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("known hosts: %w", err)
	}
	_ = f.Close()
	if _, err := knownhosts.New(path); err != nil {
		return nil, fmt.Errorf("known hosts %s: %w", path, err)
	}
	return &KnownHosts{path: path}, nil
}

// Path is the file in use.
func (k *KnownHosts) Path() string { return k.path }

// HostKeyChangedError is a host whose key differs from the recorded one.
type HostKeyChangedError struct {
	Host      string // as known_hosts writes it: "[127.0.0.1]:2222"
	File      string
	Line      int
	Got, Want string // SHA256 fingerprints
}

func (e *HostKeyChangedError) Error() string {
	return fmt.Sprintf("REFUSED: the host key of %s has changed: it offered %s but %s:%d records %s. "+
		"Someone may be impersonating the node. If its key really changed, delete line %d of %s.",
		e.Host, e.Got, e.File, e.Line, e.Want, e.Line, e.File)
}

// Callback is the ssh.HostKeyCallback to use in ssh.ClientConfig.
func (k *KnownHosts) Callback() ssh.HostKeyCallback { return k.check }

func (k *KnownHosts) check(hostname string, remote net.Addr, key ssh.PublicKey) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	cb, err := knownhosts.New(k.path) // reread: another client may have added keys
	if err != nil {
		return fmt.Errorf("known hosts %s: %w", k.path, err)
	}
	err = cb(hostname, remote, key)
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		return err // nil (known and matching) or revoked
	}
	if len(ke.Want) > 0 {
		w := ke.Want[0]
		return &HostKeyChangedError{Host: knownhosts.Normalize(hostname), File: w.Filename, Line: w.Line,
			Got: ssh.FingerprintSHA256(key), Want: ssh.FingerprintSHA256(w.Key)}
	}
	return k.add(hostname, key)
}

func (k *KnownHosts) add(hostname string, key ssh.PublicKey) error {
	f, err := os.OpenFile(k.path, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("known hosts: %w", err)
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key) + "\n"
	if _, err := f.WriteString(line); err != nil {
		_ = f.Close()
		return fmt.Errorf("known hosts: record %s: %w", hostname, err)
	}
	return f.Close()
}
