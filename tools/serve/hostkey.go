package serve

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/syncnet/syncnet/node/config"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// nodeHostKeyName is where a node kept a host key of its own, in its
// directory, before the cluster had one: such a file is read only to
// migrate (LoadHostKey adopts the first node's) and to say it is unused.
const nodeHostKeyName = "ssh_host_ed25519_key"

// HostKey is the cluster's SSH host key: the one private key every node of
// the cluster serves, so that a client sees one host identity whichever node
// it reaches (docs/ARCHITECTURE.md, "One host identity").
type HostKey struct {
	Signer gossh.Signer
	Path   string
	// Created is set when this call wrote the file; AdoptedFrom then names
	// the node key file it was copied from, or is empty for a new key.
	Created     bool
	AdoptedFrom string
}

// Fingerprint is the key's SHA256 fingerprint, as ssh prints it.
func (k *HostKey) Fingerprint() string { return gossh.FingerprintSHA256(k.Signer.PublicKey()) }

// LoadHostKey reads the cluster host key of cfg (ssh.host_key, by default
// <data_dir>/ssh_host_ed25519_key). A key file that group or others may
// access, or that is not an unencrypted SSH private key, is refused.
//
// A missing file is created only when create is set: by a node when every
// node runs on this machine (config.OneMachine; they all read this same
// file), by `syncnet up`, and by `syncnet hostkey --create`. Nodes on
// several hosts would each make a different key, so there the file must be
// copied to every host. Creation is atomic (a hard link), so nodes starting
// together agree on one key. When a node of an older data directory still
// has a host key of its own, the first such node's key (in config order) is
// adopted instead of a new one: its users see no change.
func LoadHostKey(cfg *config.Config, create bool) (*HostKey, error) {
	path := cfg.HostKeyPath()
	where := cfg.Where("ssh.host_key") + ": ssh.host_key " + path
	k, err := readHostKey(path, where)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if !create {
		return nil, fmt.Errorf("%s does not exist. The nodes of this cluster run on several hosts, so none creates it: "+
			"create it once with `syncnet hostkey --config %s --create` and copy it to every host (mode 0600)", where, cfg.Path())
	}
	pemBytes, from, err := newHostKeyPEM(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	created, err := createExclusive(path, pemBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: create: %w", where, err)
	}
	if k, err = readHostKey(path, where); err != nil {
		return nil, err
	}
	if created {
		k.Created, k.AdoptedFrom = true, from
		// The public half, for operators; the node never reads it.
		pub := gossh.MarshalAuthorizedKey(k.Signer.PublicKey())
		if err := os.WriteFile(path+".pub", pub, 0o644); err != nil {
			return nil, fmt.Errorf("%s: write public key: %w", where, err)
		}
	}
	return k, nil
}

// readHostKey reads and checks a private key file; where prefixes errors.
func readHostKey(path, where string) (*HostKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", where)
	}
	// As sshd and ssh do: a private key others can read is no longer private.
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s is accessible by group or others (mode %04o): a private key must be private; run: chmod 600 %s",
			where, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	s, err := gossh.ParsePrivateKey(b)
	var pass *gossh.PassphraseMissingError
	if errors.As(err, &pass) {
		return nil, fmt.Errorf("%s is protected by a passphrase, which a server cannot type: remove it with ssh-keygen -p -N '' -f %s", where, path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s is not an SSH private key: %w", where, err)
	}
	return &HostKey{Signer: s, Path: path}, nil
}

// newHostKeyPEM is the content of a new cluster host key: the first node's
// own former host key if one exists (migration), else a new ed25519 key in
// the OpenSSH format ssh-keygen writes.
func newHostKeyPEM(cfg *config.Config) (pemBytes []byte, from string, err error) {
	for _, n := range cfg.Nodes {
		old := filepath.Join(cfg.NodeDir(n.ID), nodeHostKeyName)
		if _, err := readHostKey(old, old); err == nil {
			b, err := os.ReadFile(old)
			return b, old, err
		}
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", err
	}
	blk, err := gossh.MarshalPrivateKey(priv, "syncnet cluster "+cfg.Cluster.Name)
	if err != nil {
		return nil, "", err
	}
	return pem.EncodeToMemory(blk), "", nil
}

// createExclusive writes b to path, mode 0600, unless path already exists.
// It writes a temporary file and hard-links it into place, so no reader
// ever sees a partial key and of two processes creating it at once exactly
// one wins; it reports whether this call was the one.
func createExclusive(path string, b []byte) (bool, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, err
	}
	f, err := os.CreateTemp(dir, ".host_key-*") // mode 0600
	if err != nil {
		return false, err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, err
	}
	err = os.Link(f.Name(), path)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	return err == nil, err
}

// KnownHostsLine is the one known_hosts line that trusts every node of the
// cluster: each node's [host]:port (a loopback node also as localhost, the
// name people type), then the cluster host key, then the cluster name as a
// comment. OpenSSH and golang.org/x/crypto/ssh/knownhosts both read it.
func KnownHostsLine(cfg *config.Config, key gossh.PublicKey) string {
	var hosts []string
	seen := map[string]bool{}
	for _, n := range cfg.Nodes {
		for _, h := range clientNames(n.Host) {
			a := knownhosts.Normalize(net.JoinHostPort(h, strconv.Itoa(n.SSHPort)))
			if !seen[a] {
				seen[a] = true
				hosts = append(hosts, a)
			}
		}
	}
	line := knownhosts.Line(hosts, key)
	if name := strings.Join(strings.Fields(cfg.Cluster.Name), "-"); name != "" {
		line += " " + name
	}
	return line
}

// clientNames are the names a client is likely to dial a node by: its host,
// and for a node on loopback or on every interface also localhost and
// 127.0.0.1.
func clientNames(host string) []string {
	ip := net.ParseIP(host)
	switch {
	case host == "localhost":
		return []string{"localhost", "127.0.0.1"}
	case ip != nil && ip.IsLoopback():
		return []string{"localhost", host}
	case ip != nil && ip.IsUnspecified():
		return []string{"localhost", "127.0.0.1"}
	}
	return []string{host}
}
