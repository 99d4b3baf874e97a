package api

import (
	"context"
	"io"
	"time"
)

// Backupper is implemented by a backend that can write an online backup of
// its node (node.Node): the `backup` exec command. It is apart from Backend
// so that front ends and fakes that have no log need not implement it.
type Backupper interface {
	// Backup writes a consistent copy of the node's committed log (and its
	// newest snapshot) to w as a tar stream, while the node keeps serving;
	// progress, if set, is called now and then with entries written and
	// entries in all. `syncnet restore` reads it back.
	Backup(ctx context.Context, w io.Writer, progress func(done, total uint64)) (BackupInfo, error)
}

// BackupInfo is what a backup holds.
type BackupInfo struct {
	Entries         uint64        // entries 1..Entries, all committed
	SnapshotApplied uint64        // the state included is at this entry (0: none; restore replays)
	Bytes           int64         // bytes of the members written
	Took            time.Duration // how long it took
}
