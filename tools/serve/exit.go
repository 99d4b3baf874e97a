package serve

import "github.com/syncnet/syncnet/node"

// ExitRemoved is the exit status of a node that applied its own removal
// from the cluster (node.ErrRemoved): a supervisor must not restart it.
const ExitRemoved = node.ExitRemoved
