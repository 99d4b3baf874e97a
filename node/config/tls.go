package config

import (
	"path/filepath"
	"strings"
)

// TLS says where a node finds the credentials of its peer links (mutual TLS
// 1.3, node/certs) and whether the cluster runs without them.
type TLS struct {
	// Dir holds ca.crt, <id>.crt and <id>.key; empty means
	// <data_dir>/certs. A cluster on one machine creates what is missing
	// there on first start.
	Dir string `toml:"dir"`
	// CAFile, CertFile, KeyFile override the files in Dir (a host's own
	// copy of cluster.toml may point at /etc/syncnet/...). CAFile may hold
	// several CA certificates: during a rotation, the old and the new.
	CAFile   string `toml:"ca_file"`
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// Insecure turns TLS off: peer links carry the HMAC of the cluster
	// secret only, in the clear, and the example secret is accepted. A
	// cluster whose nodes are not all on loopback refuses to start
	// without TLS or with the example secret unless this is set; the node
	// then says so loudly in its log.
	Insecure bool `toml:"insecure"`
}

// ExampleSecret is the secret of the cluster.toml in the repository: fine
// on one machine, refused anywhere else.
const ExampleSecret = "local-dev-secret-change-me-for-real-use"

// validateTLS refuses what the text alone shows to be unsafe: the example
// secret on a cluster that is not on loopback (unless tls.insecure), and
// empty file names.
func (c *Config) validateTLS(bad func(string, string, ...any)) {
	for _, k := range []struct{ key, v string }{{"tls.dir", c.TLS.Dir}, {"tls.ca_file", c.TLS.CAFile}, {"tls.cert_file", c.TLS.CertFile}, {"tls.key_file", c.TLS.KeyFile}} {
		if _, set := c.lines[k.key]; set && strings.TrimSpace(k.v) == "" {
			bad(k.key, "%s is empty: leave it out for the default", k.key)
		}
	}
	if !c.Loopback() && !c.TLS.Insecure && strings.TrimSpace(c.Cluster.Secret) == ExampleSecret {
		bad("cluster.secret", "cluster.secret is the example secret and the nodes are not all on loopback: anyone who read the example can forge "+
			"peer traffic. Put a long random secret in a file (cluster.secret_file, mode 0600; e.g. head -c 32 /dev/urandom | base64 > secret) "+
			"or, for a test network only, set insecure = true under [tls]")
	}
}

// TLSDir is where a node's peer credentials are by default: tls.dir, or
// <data_dir>/certs.
func (c *Config) TLSDir() string {
	if c.TLS.Dir != "" {
		return c.resolve(c.TLS.Dir)
	}
	return filepath.Join(c.DataDir(), "certs")
}

// TLSFiles are node id's CA bundle, certificate and key files.
func (c *Config) TLSFiles(id string) (ca, cert, key string) {
	dir := c.TLSDir()
	ca, cert, key = filepath.Join(dir, "ca.crt"), filepath.Join(dir, id+".crt"), filepath.Join(dir, id+".key")
	if c.TLS.CAFile != "" {
		ca = c.resolve(c.TLS.CAFile)
	}
	if c.TLS.CertFile != "" {
		cert = c.resolve(c.TLS.CertFile)
	}
	if c.TLS.KeyFile != "" {
		key = c.resolve(c.TLS.KeyFile)
	}
	return ca, cert, key
}
