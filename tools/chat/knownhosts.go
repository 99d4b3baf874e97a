package chat

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// KnownHosts remembers node host keys in an OpenSSH known_hosts file of the
// client's own (trust on first use): an unknown host's key is recorded, a
// known host must present a recorded key, and a changed key is refused with
// a HostKeyChangedError naming the file and line.
type KnownHosts struct {
	path    string
	mu      sync.Mutex
	cluster []string // the cluster's nodes, normalized (SetCluster)
}

// SetCluster names the nodes of one cluster ("host:port"). Every node of a
// cluster serves the same host key, so a node seen for the first time must
// present a key already recorded for another of them, if any is: a client
// failing over to a node it never reached is exactly when an impostor
// would answer there.
func (k *KnownHosts) SetCluster(addrs []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cluster = k.cluster[:0]
	for _, a := range addrs {
		k.cluster = append(k.cluster, knownhosts.Normalize(a))
	}
}

// ClusterKeyError is a node seen for the first time whose key is not the
// one recorded for the other nodes of its cluster.
type ClusterKeyError struct {
	Host, Other string // the new node; a node of the cluster already known
	File        string
	Got, Want   string // SHA256 fingerprints
}

func (e *ClusterKeyError) Error() string {
	return fmt.Sprintf("REFUSED: %s offers host key %s, but the nodes of this cluster share one key and %s records %s for %s. "+
		"Someone may be impersonating the node (or it belongs to another cluster).", e.Host, e.Got, e.File, e.Want, e.Other)
}

// clusterKey checks the key of a node seen for the first time against the
// keys recorded for the other nodes of its cluster (none: trust on first
// use).
func (k *KnownHosts) clusterKey(hostname string, key ssh.PublicKey) error {
	host := knownhosts.Normalize(hostname)
	if !slices.Contains(k.cluster, host) {
		return nil // not a node of the cluster: trust on first use
	}
	raw, err := os.ReadFile(k.path)
	if err != nil {
		return fmt.Errorf("known hosts: %w", err)
	}
	var other string
	var want ssh.PublicKey
	for rest := raw; len(rest) > 0; {
		marker, hosts, pk, _, next, err := ssh.ParseKnownHosts(rest)
		if err != nil {
			break // io.EOF at the end; the file parsed when it was opened
		}
		rest = next
		if marker != "" {
			continue
		}
		for _, h := range hosts {
			if h == host || !slices.Contains(k.cluster, h) {
				continue
			}
			if bytes.Equal(pk.Marshal(), key.Marshal()) {
				return nil
			}
			other, want = h, pk
		}
	}
	if want == nil {
		return nil
	}
	return &ClusterKeyError{Host: host, Other: other, File: k.path,
		Got: ssh.FingerprintSHA256(key), Want: ssh.FingerprintSHA256(want)}
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
	if err := k.clusterKey(hostname, key); err != nil {
		return err
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
