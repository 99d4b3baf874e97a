package serve

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/syncnet/syncnet/node/certs"
	"github.com/syncnet/syncnet/node/config"
)

// expiryWarning: a node whose certificate expires sooner than this says so
// at start and at every reload.
const expiryWarning = 30 * 24 * time.Hour

// loadPeerTLS loads the credentials of this node's peer links (mutual TLS,
// node/certs), before the node opens anything: nil with tls.insecure
// (logged loudly), else the loaded Store or an error naming the file.
// When every node runs on this machine and the files are the defaults,
// what is missing is created first (one CA for all: nodes starting
// together take a lock), so `make run` needs no step of its own. Nodes on
// several hosts never create anything: a CA made on each host would make
// every host a cluster of its own.
func loadPeerTLS(o Options, log *slog.Logger) (*certs.Store, error) {
	c, id := o.Node.Config, o.Node.ID
	secret, err := c.SecretBytes()
	if err != nil {
		return nil, err
	}
	example := bytes.Equal(bytes.TrimSpace(secret), []byte(config.ExampleSecret))
	if c.TLS.Insecure {
		log.Warn("INSECURE: tls.insecure = true — peer links and ring datagrams are NOT encrypted and nodes do not prove who they are: "+
			"anyone on the network path reads every chat line, and anyone holding the cluster secret can pose as any node. "+
			"For a test network only; remove insecure = true and give every node a certificate (syncnet certs --help)",
			"config", c.Where("tls.insecure"), "example_secret", example)
		return nil, nil
	}
	if example && !c.Loopback() {
		return nil, fmt.Errorf("%s: cluster.secret_file holds the example secret and the nodes are not all on loopback: "+
			"put a long random secret in it (head -c 32 /dev/urandom | base64), or set insecure = true under [tls] on a test network only", c.Path())
	}
	caPath, certPath, keyPath := c.TLSFiles(id)
	paths := certs.Paths{CA: caPath, Cert: certPath, Key: keyPath}
	now := time.Now()
	if c.OneMachine() && c.TLS.CAFile == "" && c.TLS.CertFile == "" && c.TLS.KeyFile == "" {
		var ids []string
		for _, n := range c.Nodes {
			ids = append(ids, n.ID)
		}
		created, err := certs.EnsureLoopback(c.TLSDir(), c.Cluster.Name, ids, now)
		if err != nil {
			return nil, fmt.Errorf("peer TLS: create the credentials of a cluster on one machine in %s: %w", c.TLSDir(), err)
		}
		if len(created) > 0 {
			log.Info("created peer TLS credentials: every node runs on this machine, so they share one CA (the cluster's nodes on several hosts use syncnet certs instead)",
				"dir", c.TLSDir(), "files", strings.Join(created, " "))
		}
	}
	st, err := certs.Open(paths, id, now)
	if err != nil {
		hint := fmt.Sprintf("make a CA once with `syncnet certs init --config %s` and this node's key and certificate with `syncnet certs issue --config %s --id %s`, then copy ca.crt, %s.crt and %s.key to this host (docs/OPERATIONS.md); a test network may set insecure = true under [tls]",
			c.Path(), c.Path(), id, id, id)
		return nil, fmt.Errorf("peer TLS (%s): %w\n%s", c.Where("tls"), err, hint)
	}
	cur := st.Current()
	log.Info("peer links use mutual TLS 1.3", "cert", cur.CertPath, "expires", cur.NotAfter().UTC().Format(time.RFC3339), "cas", len(cur.CAs))
	warnExpiry(cur, now, log)
	return st, nil
}

func warnExpiry(c *certs.Creds, now time.Time, log *slog.Logger) {
	if left := c.NotAfter().Sub(now); left < expiryWarning {
		log.Warn("this node's peer certificate expires soon: issue a new one (syncnet certs issue --replace) and reload (SIGHUP)",
			"cert", c.CertPath, "expires", c.NotAfter().UTC().Format(time.RFC3339), "left", left.Round(time.Hour))
	}
}

// reloadPeerTLS reloads the peer credentials after a config reload
// (SIGHUP, ssh admin@node reload): independent of it (the files are not
// cluster.toml), the new ones in use for the next connection if they
// check, the old ones kept otherwise. Its outcome joins the reload's.
func reloadPeerTLS(st *certs.Store, log *slog.Logger, changed []string, err error) ([]string, error) {
	if st == nil {
		return changed, err
	}
	what, terr := st.Reload(time.Now())
	switch {
	case terr != nil:
		log.Warn(terr.Error())
		err = errors.Join(err, terr)
	case what != "":
		log.Info("peer credentials reloaded: new connections use them", "changed", what)
		changed = append(changed, "peer TLS: "+what)
		warnExpiry(st.Current(), time.Now(), log)
	}
	return changed, err
}
