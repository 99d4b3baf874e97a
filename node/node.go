package node

import (
	"context"
	"log/slog"

	"github.com/syncnet/syncnet/node/config"
)

// Options configure one node process.
type Options struct {
	Config             *config.Config
	ID                 string
	Logger             *slog.Logger
	ExtraAdminKeysFile string
}

// Run runs the node until ctx ends.
func Run(ctx context.Context, o Options) error {
	if _, err := o.Config.Node(o.ID); err != nil {
		return err
	}
	o.Logger.Info("node started", "data_dir", o.Config.NodeDir(o.ID))
	<-ctx.Done()
	o.Logger.Info("node stopped")
	return nil
}
