package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/syncnet/syncnet/node/certs"
	"github.com/syncnet/syncnet/node/config"
)

const certsUsage = `Usage: syncnet certs init  [--config FILE | --dir DIR] [--name NAME] [--days N]
       syncnet certs issue --id ID [--config FILE | --dir DIR] [--out DIR] [--days N] [--replace]
       syncnet certs show  [--config FILE] --id ID

Credentials of the peer links (mutual TLS 1.3 between the nodes):

  init   makes the cluster CA: ca.crt (every node trusts it) and ca.key
         (needed only to issue; keep it off the nodes when they run on
         several hosts). Refuses to replace an existing CA.
  issue  makes node ID's key and certificate, signed by the CA of --dir:
         ID.key (mode 0600) and ID.crt, in --out (default: the same
         directory). Copy ca.crt, ID.crt and ID.key to that node's host.
  show   checks node ID's files as the node will at start, and prints
         what they say.

The directory is [tls] dir of the config (default <data_dir>/certs), or
--dir. A cluster whose nodes all run on one machine (make run) creates
what is missing itself on first start. Rotation without downtime
(a new certificate, or a new CA) is in docs/OPERATIONS.md.
`

func runCerts(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(os.Stderr, certsUsage)
		if len(args) == 0 {
			return exitError{2, ""}
		}
		return nil
	}
	sub := args[0]
	fs := flag.NewFlagSet("certs "+sub, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), certsUsage+"\nFlags:\n"); fs.PrintDefaults() }
	cfgPath := fs.String("config", "cluster.toml", "cluster config file: its [tls] dir is the default --dir")
	dir := fs.String("dir", "", "the CA's directory (default: [tls] dir of --config)")
	id := fs.String("id", "", "the node id (issue, show)")
	out := fs.String("out", "", "issue: where to write ID.crt and ID.key (default: --dir)")
	name := fs.String("name", "", "init: the CA's name (default: the cluster name and \"CA\")")
	days := fs.Int("days", 0, "validity in days (default: 3650 for a CA, 730 for a node)")
	replace := fs.Bool("replace", false, "issue: write over an existing key and certificate (rotation)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var cfg *config.Config
	if *dir == "" || sub == "show" || *name == "" {
		c, err := config.Load(*cfgPath)
		if err != nil && (*dir == "" || sub == "show") {
			return fmt.Errorf("%v (or give --dir)", err)
		}
		cfg = c
	}
	if *dir == "" {
		*dir = cfg.TLSDir()
	}
	validity := func(def time.Duration) time.Duration {
		if *days > 0 {
			return time.Duration(*days) * 24 * time.Hour
		}
		return def
	}
	now := time.Now()
	switch sub {
	case "init":
		if *name == "" {
			*name = "SyncNet CA"
			if cfg != nil {
				*name = cfg.Cluster.Name + " CA"
			}
		}
		ca, err := certs.InitDir(*dir, *name, now, validity(certs.DefaultCAValidity))
		if err != nil {
			return err
		}
		fmt.Printf("created the CA %q in %s: %s (every node), %s (issuing only; keep it safe), valid until %s\n",
			*name, *dir, certs.CAFile, certs.CAKeyFile, ca.Cert.NotAfter.UTC().Format("2006-01-02"))
		fmt.Printf("next: syncnet certs issue --dir %s --id NODE for each node\n", *dir)
		return nil
	case "issue":
		if *id == "" {
			fs.Usage()
			return exitError{2, "--id is required"}
		}
		if cfg != nil {
			if _, err := cfg.Node(*id); err != nil {
				fmt.Fprintf(os.Stderr, "note: %v; issuing anyway (a node to be added)\n", err)
			}
		}
		ca, err := certs.LoadCA(*dir)
		if err != nil {
			return fmt.Errorf("%v (make a CA first: syncnet certs init)", err)
		}
		to := *out
		if to == "" {
			to = *dir
		}
		p, err := ca.IssueFiles(to, *id, now, validity(certs.DefaultCertValidity), *replace)
		if err != nil {
			return err
		}
		fmt.Printf("issued %s's certificate by %q: %s and %s (mode 0600)\n", *id, ca.Cert.Subject.CommonName, p.Cert, p.Key)
		fmt.Printf("copy them with %s to %s's host; a running node takes them on SIGHUP\n", certs.CAFile, *id)
		return nil
	case "show":
		if *id == "" {
			fs.Usage()
			return exitError{2, "--id is required"}
		}
		ca, cert, key := cfg.TLSFiles(*id)
		c, err := certs.Load(certs.Paths{CA: ca, Cert: cert, Key: key}, *id, now)
		if err != nil {
			return err
		}
		leaf := c.Cert.Leaf
		fmt.Printf("node %s: %s\n  serial %s, issued by %q, valid %s to %s (%d days left)\n  key %s\n  CA bundle %s:\n",
			c.ID, c.CertPath, leaf.SerialNumber.Text(16), leaf.Issuer.CommonName, leaf.NotBefore.UTC().Format("2006-01-02"),
			leaf.NotAfter.UTC().Format("2006-01-02"), int(leaf.NotAfter.Sub(now).Hours()/24), c.KeyPath, c.CAPath)
		for _, a := range c.CAs {
			fmt.Printf("    %q valid until %s\n", a.Subject.CommonName, a.NotAfter.UTC().Format("2006-01-02"))
		}
		return nil
	default:
		fmt.Fprint(os.Stderr, certsUsage)
		return exitError{2, fmt.Sprintf("unknown certs command %q (init, issue, show)", sub)}
	}
}
