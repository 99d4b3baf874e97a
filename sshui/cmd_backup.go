package sshui

import (
	"fmt"
	"time"

	"github.com/syncnet/syncnet/node/api"
)

// cmdBackup streams an online backup of this node to stdout:
// `ssh admin@node backup > syncnet-backup.tar`.
func cmdBackup() command {
	c := command{name: "backup", admin: true, usage: "> FILE.tar",
		summary: "Write a consistent copy of this node's committed log and newest snapshot to stdout, as a tar stream (admin).\n" +
			"The node keeps serving. Restore with: syncnet restore FILE.tar --config cluster.toml --id NODE"}
	c.run = func(e *execEnv) int {
		fs := newFlags(c)
		if code, ok := parseNoArgs(e, c, fs); !ok {
			return code
		}
		b, can := e.b.(api.Backupper)
		if !can {
			return e.errorf("backup: this node cannot write backups")
		}
		if e.pty {
			return e.errorf("backup: the backup is binary; redirect it to a file: ssh -T ... backup > syncnet-backup.tar")
		}
		last := time.Now()
		progress := func(done, total uint64) {
			if time.Since(last) >= 2*time.Second || done == total {
				last = time.Now()
				_, _ = fmt.Fprintf(e.err, "backup: %d of %d entries (%d%%)\n", done, total, done*100/max(total, 1))
			}
		}
		info, err := b.Backup(e.ctx, e.out, progress)
		if err != nil {
			return e.errorf("backup failed (the file is incomplete; restore refuses it): %v", err)
		}
		_, _ = fmt.Fprintf(e.err, "backup: done: entries 1..%d, state at entry %d, %.1f MB in %s\n",
			info.Entries, info.SnapshotApplied, float64(info.Bytes)/1e6, info.Took.Round(time.Millisecond))
		return exitOK
	}
	return c
}
