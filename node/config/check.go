package config

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// LookupTimeout bounds each host name lookup of Check.
const LookupTimeout = 5 * time.Second

// Check looks at what Validate cannot see in the text: that every host
// resolves (and no two names of one address share a port), that the secret
// file exists and holds a long enough secret, and that every admin key
// parses. Load calls it, so a node finds these mistakes before it creates
// anything. Each error names the key and its line; they come in file order.
func (c *Config) Check() error { return joinByLine(c.check(true)) }

// check is Check; clashes: also look for two names of one address on one
// port (only worth it once Validate's own port rules hold).
func (c *Config) check(clashes bool) []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, errors.New(c.linePrefix(key)+fmt.Sprintf(format, args...)))
	}
	if c.Cluster.SecretFile != "" {
		if _, err := c.SecretBytes(); err != nil {
			bad("cluster.secret_file", "%v", err)
		}
	}
	c.checkAdminKeys(bad)
	resolved := map[string][]string{}
	resolve := func(host string) ([]string, error) {
		if ips, ok := resolved[host]; ok {
			return ips, nil
		}
		if ips, _ := offlineResolver(host); ips != nil {
			return ips, nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), LookupTimeout)
		defer cancel()
		ips, err := net.DefaultResolver.LookupHost(ctx, host)
		if err != nil {
			return nil, err
		}
		resolved[host] = ips
		return ips, nil
	}
	for i, n := range c.Nodes {
		if _, err := resolve(n.Host); err != nil {
			bad("", "%snode %d (id %q): host %q does not resolve: %v", c.nodeLinePrefix(i, "host"), i+1, n.ID, n.Host, err)
		}
	}
	if _, err := resolve(c.Metrics.Host); err != nil {
		bad("metrics.host", "metrics.host %q does not resolve: %v", c.Metrics.Host, err)
	}
	if len(errs) == 0 && clashes {
		// With every name resolved, two names for one address on one
		// port are a clash Validate could not see.
		c.validateNodes(bad, resolve)
	}
	return errs
}

// checkAdminKeys parses every admin key, naming the bad one.
func (c *Config) checkAdminKeys(bad func(string, string, ...any)) {
	for i, k := range c.Auth.AdminKeys {
		if _, _, _, _, err := gossh.ParseAuthorizedKey([]byte(k)); err != nil {
			bad("auth.admin_keys", "auth.admin_keys entry %d (%.40q) is not a public key in authorized_keys format: %v", i+1, k, err)
		}
	}
	f := c.Auth.AdminKeysFile
	if f == "" {
		return
	}
	b, err := os.ReadFile(c.resolve(f))
	if err != nil {
		bad("auth.admin_keys_file", "read auth.admin_keys_file: %v", err)
		return
	}
	for ln, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if _, _, _, _, err := gossh.ParseAuthorizedKey([]byte(l)); err != nil {
			bad("auth.admin_keys_file", "auth.admin_keys_file %s: line %d is not a public key in authorized_keys format: %v", f, ln+1, err)
		}
	}
}
