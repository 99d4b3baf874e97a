package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/syncnet/syncnet/node/config"
	"github.com/syncnet/syncnet/tools/serve"
)

func runHostkey(_ context.Context, args []string) error {
	return hostkey(args, os.Stdout, os.Stderr)
}

// hostkey prints the known_hosts line of the cluster host key on stdout (so
// `syncnet hostkey >> ~/.ssh/known_hosts` works) and its fingerprint on
// stderr. A missing key is created when every node runs on this machine, as
// a node would, or with --create.
func hostkey(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hostkey", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "cluster.toml", "cluster config file")
	create := fs.Bool("create", false, "create the key if it is missing, also when the nodes run on several hosts (then copy it to each)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: syncnet hostkey [--config FILE] [--create]\n\n"+
			"Prints the known_hosts line that trusts every node of the cluster: they all\n"+
			"serve one SSH host key (ssh.host_key in the config).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitError{2, fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	k, err := serve.LoadHostKey(cfg, *create || cfg.OneMachine())
	if err != nil {
		return err
	}
	if k.Created {
		fmt.Fprintf(stderr, "syncnet hostkey: created the cluster SSH host key %s", k.Path)
		if k.AdoptedFrom != "" {
			fmt.Fprintf(stderr, " from %s, which a node served before", k.AdoptedFrom)
		}
		fmt.Fprintln(stderr)
		if !cfg.OneMachine() {
			fmt.Fprintf(stderr, "syncnet hostkey: copy %s to the same path on every host of the cluster (mode 0600) before starting the nodes\n", k.Path)
		}
	}
	fmt.Fprintln(stdout, serve.KnownHostsLine(cfg, k.Signer.PublicKey()))
	fmt.Fprintf(stderr, "# %s %s: add the line above to ~/.ssh/known_hosts to trust every node\n", k.Fingerprint(), k.Path)
	return nil
}
