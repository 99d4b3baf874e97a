// Package certs makes and checks the credentials of a cluster's peer links:
// a cluster CA, and per node a private key and a certificate that the CA
// signed and that names the node's id. Mutual TLS on the peer port
// (node/peer) rests on them: a node proves which node it is with its
// certificate, so a node cannot speak for another, and a listener that
// holds no certificate of the cluster gets nothing from a dialer.
//
// The node id is a URI SAN, syncnet://node/<id> (the common name carries it
// too, for people reading the certificate; only the URI counts). Host names
// are not checked: the configuration says where each node is, the
// certificate says who it is, and both sides check that the id matches the
// one they expect.
//
// Files, in one directory (by default <data_dir>/certs):
//
//	ca.crt      the CA bundle every node trusts: one CA, or during a
//	            rotation the old and the new (PEM, concatenated)
//	ca.key      the CA's private key: needed to issue, not to run a node;
//	            keep it off the nodes when they run on several hosts
//	<id>.crt    a node's certificate (its chain: the leaf first)
//	<id>.key    its private key (mode 0600)
package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names inside a certificate directory.
const (
	CAFile    = "ca.crt"
	CAKeyFile = "ca.key"
)

// CertFile and KeyFile are a node's certificate and key file names.
func CertFile(id string) string { return id + ".crt" }

// KeyFile is the name of a node's private key file.
func KeyFile(id string) string { return id + ".key" }

// Default validity of what Init and Issue make. A CA outlives the
// certificates it signs; a node certificate is rotated well before it
// expires (docs/OPERATIONS.md, "Rotating keys").
const (
	DefaultCAValidity   = 10 * 365 * 24 * time.Hour
	DefaultCertValidity = 2 * 365 * 24 * time.Hour
)

// uriPrefix is how a certificate names a node: syncnet://node/<id>.
const uriPrefix = "syncnet://node/"

// NodeURI is the URI SAN a node's certificate carries.
func NodeURI(id string) *url.URL {
	return &url.URL{Scheme: "syncnet", Host: "node", Path: "/" + id}
}

// NodeID is the node id a certificate names, from its URI SAN; an error when
// it names none or more than one.
func NodeID(c *x509.Certificate) (string, error) {
	var ids []string
	for _, u := range c.URIs {
		if s := u.String(); strings.HasPrefix(s, uriPrefix) {
			ids = append(ids, strings.TrimPrefix(s, uriPrefix))
		}
	}
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("certificate %q names no node (no %s<id> URI)", c.Subject.CommonName, uriPrefix)
	case 1:
		if ids[0] == "" {
			return "", fmt.Errorf("certificate %q names an empty node id", c.Subject.CommonName)
		}
		return ids[0], nil
	default:
		return "", fmt.Errorf("certificate %q names several nodes (%s): a certificate is for one node", c.Subject.CommonName, strings.Join(ids, ", "))
	}
}

// Verify checks a peer's chain (leaf first, as TLS delivers it) against the
// CA bundle at now, for the given use (x509.ExtKeyUsageClientAuth for a
// dialer, ServerAuth for a listener), and returns the node id it names.
// Errors say what is wrong in words an operator can act on: expired (with
// the date), signed by a CA this node does not trust, no node id.
func Verify(chain []*x509.Certificate, roots *x509.CertPool, now time.Time, usage x509.ExtKeyUsage) (string, error) {
	if len(chain) == 0 {
		return "", errors.New("no certificate presented")
	}
	leaf := chain[0]
	id, idErr := NodeID(leaf)
	who := "certificate " + describe(leaf)
	if idErr == nil {
		who = "certificate of " + id + " (" + describe(leaf) + ")"
	}
	if now.After(leaf.NotAfter) {
		return "", fmt.Errorf("%s expired at %s: issue a new one (syncnet certs issue --id %s)", who, leaf.NotAfter.UTC().Format(time.RFC3339), id)
	}
	if now.Before(leaf.NotBefore) {
		return "", fmt.Errorf("%s is not valid before %s (is a clock wrong?)", who, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage}})
	if err != nil {
		var ua x509.UnknownAuthorityError
		if errors.As(err, &ua) {
			return "", fmt.Errorf("%s is signed by %q, a CA this node does not trust (another cluster's CA, or a CA not yet in this node's bundle): %w",
				who, leaf.Issuer.CommonName, err)
		}
		return "", fmt.Errorf("%s refused: %w", who, err)
	}
	if idErr != nil {
		return "", idErr
	}
	return id, nil
}

func describe(c *x509.Certificate) string {
	return fmt.Sprintf("serial %s, issued by %q", c.SerialNumber.Text(16), c.Issuer.CommonName)
}

// Creds are one node's loaded credentials.
type Creds struct {
	ID    string
	Cert  tls.Certificate // leaf parsed (Cert.Leaf)
	Roots *x509.CertPool  // the CA bundle
	CAs   []*x509.Certificate
	// Files they came from, for messages.
	CAPath, CertPath, KeyPath string
}

// NotAfter is when this node's certificate expires.
func (c *Creds) NotAfter() time.Time { return c.Cert.Leaf.NotAfter }

// Paths name a node's three files.
type Paths struct {
	CA, Cert, Key string
}

// DirPaths are the files of node id in dir.
func DirPaths(dir, id string) Paths {
	return Paths{CA: filepath.Join(dir, CAFile), Cert: filepath.Join(dir, CertFile(id)), Key: filepath.Join(dir, KeyFile(id))}
}

// Load reads and checks node id's credentials: every file present, the key
// private (no access for group or others), the certificate naming id,
// matching the key, within its validity at now and signed by a CA of the
// bundle. Every error names the file.
func Load(p Paths, id string, now time.Time) (*Creds, error) {
	cas, err := readCerts(p.CA)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	for _, c := range cas {
		if !c.IsCA {
			return nil, fmt.Errorf("%s: certificate %q is not a CA certificate", p.CA, c.Subject.CommonName)
		}
		roots.AddCert(c)
	}
	if err := checkPrivate(p.Key); err != nil {
		return nil, err
	}
	chain, err := readCerts(p.Cert)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(p.Key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Key, err)
	}
	certPEM, _ := os.ReadFile(p.Cert)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s and %s do not make a key pair: %w", p.Cert, p.Key, err)
	}
	pair.Leaf = chain[0]
	got, err := NodeID(chain[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Cert, err)
	}
	if got != id {
		return nil, fmt.Errorf("%s is the certificate of %s, not of this node %s", p.Cert, got, id)
	}
	// A node's certificate serves both ends of a link.
	for _, u := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := Verify(chain, roots, now, u); err != nil {
			return nil, fmt.Errorf("%s (CA bundle %s): %w", p.Cert, p.CA, err)
		}
	}
	return &Creds{ID: id, Cert: pair, Roots: roots, CAs: cas, CAPath: p.CA, CertPath: p.Cert, KeyPath: p.Key}, nil
}

// checkPrivate refuses a key file that is missing, not a regular file, or
// accessible by group or others (as sshd refuses such a host key).
func checkPrivate(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fileErr(path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s is accessible by group or others (mode %04o): a private key must be private; run: chmod 600 %s", path, perm, path)
	}
	return nil
}

// readCerts reads every CERTIFICATE block of a PEM file.
func readCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fileErr(path, err)
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", path, len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return out, nil
}

// CA is a loaded certificate authority that can issue node certificates.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewCA makes a CA named name, valid for validity from now.
func NewCA(name string, now time.Time, validity time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"SyncNet"}},
		NotBefore:             now.Add(-time.Hour), // tolerate clocks a little behind
		NotAfter:              now.Add(validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: c, Key: key}, nil
}

// Issue makes a key and a certificate for node id, valid for validity from
// now, usable at both ends of a TLS connection. It returns both in PEM.
func (ca *CA) Issue(id string, now time.Time, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if id == "" || strings.ContainsAny(id, "/ \t\n") {
		return nil, nil, fmt.Errorf("bad node id %q", id)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: id, Organization: []string{"SyncNet node"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{NodeURI(id)},
	}
	if notAfter := ca.Cert.NotAfter; tmpl.NotAfter.After(notAfter) {
		tmpl.NotAfter = notAfter // a certificate cannot outlive its CA
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, nil, err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), nil
}

// PEM returns the CA's certificate and key in PEM.
func (ca *CA) PEM() (certPEM, keyPEM []byte, err error) {
	kb, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), nil
}

// LoadCA reads the CA of dir (ca.crt, whose first certificate must match
// ca.key).
func LoadCA(dir string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)
	if err := checkPrivate(keyPath); err != nil {
		return nil, err
	}
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	blk, _ := pem.Decode(kb)
	if blk == nil {
		return nil, fmt.Errorf("%s holds no PEM private key", keyPath)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: not a signing key", keyPath)
	}
	cas, err := readCerts(certPath)
	if err != nil {
		return nil, err
	}
	// The bundle may hold an old CA beside the new one: the key picks.
	for _, c := range cas {
		if pub, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); ok && pub.Equal(signer.Public()) {
			return &CA{Cert: c, Key: signer}, nil
		}
	}
	return nil, fmt.Errorf("%s matches no certificate of %s", keyPath, certPath)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n.Add(n, big.NewInt(1))
}

// fileErr is err about path, naming the path once ("x.key: no such file or
// directory"), still matching fs.ErrNotExist and the like.
func fileErr(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", path, pe.Err)
	}
	return fmt.Errorf("%s: %w", path, err)
}
