package eventlog

import "fmt"

// FaultStage is a point in a group commit at which Options.InjectFault is
// consulted. It exists for fault-injection tests only.
type FaultStage uint8

const (
	// FaultBeforeWrite comes before any byte of the batch is written to a
	// segment file. An error here is a write that failed with nothing written
	// (like ENOSPC on the first byte): none of the batch reaches the file.
	FaultBeforeWrite FaultStage = iota + 1
	// FaultBeforeSync comes after the whole batch was written to the segment
	// file (the page cache) and before the fsync, and is consulted even with
	// NoSync. An error here is a failed fsync: the records may be on disk and
	// may be found after a reopen, but the Appends of the batch fail.
	FaultBeforeSync
)

// String returns the stage's constant name.
func (s FaultStage) String() string {
	switch s {
	case FaultBeforeWrite:
		return "FaultBeforeWrite"
	case FaultBeforeSync:
		return "FaultBeforeSync"
	}
	return fmt.Sprintf("FaultStage(%d)", uint8(s))
}

// fault asks the test hook, if any, whether stage fails.
func (l *Log) fault(stage FaultStage) error {
	if l.opts.InjectFault == nil {
		return nil
	}
	if err := l.opts.InjectFault(stage); err != nil {
		return fmt.Errorf("%s (injected): %w", stage, err)
	}
	return nil
}
