package certs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// InitDir makes a new CA in dir (ca.crt 0644, ca.key 0600). It refuses to
// replace an existing CA: every certificate it signed would stop working.
func InitDir(dir, name string, now time.Time, validity time.Duration) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for _, f := range []string{CAFile, CAKeyFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return nil, fmt.Errorf("%s already exists: a new CA would invalidate every certificate the old one signed (to rotate the CA, see docs/OPERATIONS.md)", filepath.Join(dir, f))
		}
	}
	ca, err := NewCA(name, now, validity)
	if err != nil {
		return nil, err
	}
	cp, kp, err := ca.PEM()
	if err != nil {
		return nil, err
	}
	// The key first: a ca.crt without its key would look like a CA that
	// can issue.
	if err := writeNew(filepath.Join(dir, CAKeyFile), kp, 0o600); err != nil {
		return nil, err
	}
	if err := writeNew(filepath.Join(dir, CAFile), cp, 0o644); err != nil {
		return nil, err
	}
	return ca, nil
}

// IssueFiles writes <id>.crt (0644) and <id>.key (0600) in outDir, signed
// by ca. Existing files are refused unless replace is set; a replacement
// goes through a temporary file and a rename, so a node reloading its
// files never reads half of one.
func (ca *CA) IssueFiles(outDir, id string, now time.Time, validity time.Duration, replace bool) (Paths, error) {
	p := Paths{CA: filepath.Join(outDir, CAFile), Cert: filepath.Join(outDir, CertFile(id)), Key: filepath.Join(outDir, KeyFile(id))}
	if !replace {
		for _, f := range []string{p.Cert, p.Key} {
			if _, err := os.Stat(f); err == nil {
				return p, fmt.Errorf("%s already exists (--replace writes a new key and certificate over it)", f)
			}
		}
	}
	certPEM, keyPEM, err := ca.Issue(id, now, validity)
	if err != nil {
		return p, err
	}
	if err := os.MkdirAll(outDir, 0o700); err != nil {
		return p, err
	}
	// The key before the certificate: a reload between the two renames
	// sees a new key with the old certificate and refuses the pair (and
	// keeps what it has) rather than the reverse order's same refusal;
	// either way nothing half-written is used.
	if err := writeReplace(p.Key, keyPEM, 0o600); err != nil {
		return p, err
	}
	if err := writeReplace(p.Cert, certPEM, 0o644); err != nil {
		return p, err
	}
	return p, nil
}

// EnsureLoopback makes what a cluster on one machine needs when it is
// missing: a CA in dir and a key and certificate for each id. Nodes
// starting together call it at once: a lock file serialises them, so they
// agree on one CA. It returns what it created.
func EnsureLoopback(dir, name string, ids []string, now time.Time) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	var created []string
	ca, err := LoadCA(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(filepath.Join(dir, CAFile)); serr == nil {
			return nil, fmt.Errorf("%s exists without its key %s: cannot issue the missing certificates (syncnet certs issue on the machine that holds the CA key)",
				filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile))
		}
		if ca, err = InitDir(dir, name+" CA", now, DefaultCAValidity); err != nil {
			return nil, err
		}
		created = append(created, filepath.Join(dir, CAFile))
	} else if err != nil {
		return nil, err
	}
	for _, id := range ids {
		p := DirPaths(dir, id)
		_, cerr := os.Stat(p.Cert)
		_, kerr := os.Stat(p.Key)
		if cerr == nil && kerr == nil {
			continue
		}
		if _, err := ca.IssueFiles(dir, id, now, DefaultCertValidity, true); err != nil {
			return created, err
		}
		created = append(created, p.Cert)
	}
	return created, nil
}

// writeNew creates path exclusively (fsynced).
func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeReplace writes path through a temporary file and a rename.
func writeReplace(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	os.Remove(tmp)
	if err := writeNew(tmp, b, mode); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
