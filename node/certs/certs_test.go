package certs

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestIssueAndLoad(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ca, err := InitDir(dir, "test CA", now, DefaultCAValidity)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := InitDir(dir, "again", now, DefaultCAValidity); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("a second CA over the first: %v", err)
	}
	p, err := ca.IssueFiles(dir, "node4", now, DefaultCertValidity, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.IssueFiles(dir, "node4", now, DefaultCertValidity, false); err == nil {
		t.Fatal("issue over an existing certificate without replace")
	}
	c, err := Load(p, "node4", now)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "node4" || c.Cert.Leaf == nil {
		t.Fatalf("creds %+v", c)
	}
	for _, f := range []string{p.Key, filepath.Join(dir, CAKeyFile)} {
		if fi, _ := os.Stat(f); fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode %v", f, fi.Mode())
		}
	}
}

// Load names the file and says what is wrong.
func TestLoadRefusals(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ca, _ := InitDir(dir, "test CA", now, DefaultCAValidity)
	p, _ := ca.IssueFiles(dir, "n1", now, DefaultCertValidity, false)
	q, _ := ca.IssueFiles(dir, "n2", now, DefaultCertValidity, false)
	otherDir := t.TempDir()
	other, _ := InitDir(otherDir, "other CA", now, DefaultCAValidity)
	o, _ := other.IssueFiles(otherDir, "n1", now, DefaultCertValidity, false)

	cases := []struct {
		name string
		p    Paths
		id   string
		at   time.Time
		prep func()
		want string
	}{
		{"missing key", Paths{CA: p.CA, Cert: p.Cert, Key: p.Key + ".nope"}, "n1", now, nil, p.Key + ".nope"},
		{"another node's certificate", q, "n1", now, nil, "is the certificate of n2, not of this node n1"},
		{"key of another certificate", Paths{CA: p.CA, Cert: p.Cert, Key: q.Key}, "n1", now, nil, "do not make a key pair"},
		{"another CA", Paths{CA: p.CA, Cert: o.Cert, Key: o.Key}, "n1", now, nil, "a CA this node does not trust"},
		{"expired", p, "n1", now.Add(3 * 365 * 24 * time.Hour), nil, "expired at"},
		{"key readable by others", p, "n1", now, func() { os.Chmod(p.Key, 0o644) }, "accessible by group or others"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.prep != nil {
				tc.prep()
			}
			_, err := Load(tc.p, tc.id, tc.at)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// Nodes starting together agree on one CA, and each gets a certificate.
func TestEnsureLoopbackConcurrent(t *testing.T) {
	dir := t.TempDir()
	ids := []string{"node1", "node2", "node3"}
	var wg sync.WaitGroup
	errs := make(chan error, len(ids))
	for range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := EnsureLoopback(dir, "test", ids, time.Now())
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		if _, err := Load(DirPaths(dir, id), id, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	created, err := EnsureLoopback(dir, "test", ids, time.Now())
	if err != nil || len(created) != 0 {
		t.Fatalf("second run created %v (%v)", created, err)
	}
}

// A reload that fails keeps the credentials in use; one that succeeds
// swaps them.
func TestStoreReload(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ca, _ := InitDir(dir, "test CA", now, DefaultCAValidity)
	p, _ := ca.IssueFiles(dir, "n1", now, DefaultCertValidity, false)
	s, err := Open(p, "n1", now)
	if err != nil {
		t.Fatal(err)
	}
	first := s.Current().Cert.Leaf.SerialNumber
	os.WriteFile(p.Cert, []byte("garbage"), 0o644)
	if _, err := s.Reload(now); err == nil {
		t.Fatal("a garbage certificate reloaded")
	}
	if s.Current().Cert.Leaf.SerialNumber.Cmp(first) != 0 {
		t.Fatal("a failed reload changed the credentials")
	}
	if _, err := ca.IssueFiles(dir, "n1", now, DefaultCertValidity, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reload(now); err != nil {
		t.Fatal(err)
	}
	if s.Current().Cert.Leaf.SerialNumber.Cmp(first) == 0 {
		t.Fatal("reload kept the old certificate")
	}
}
