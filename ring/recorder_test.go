package ring

import (
	"errors"
	"fmt"
	"testing"
)

var errRecorderStop = errors.New("recorder: stop")

// recorder is a testing.TB usable off the test goroutine: Fatal records the
// message and unwinds with a panic that runSeedSafe recovers.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	if r.msg == "" {
		r.msg = fmt.Sprintf(format, args...)
	}
}

func (r *recorder) Fatal(args ...any) {
	r.Errorf("%s", fmt.Sprint(args...))
	panic(errRecorderStop)
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(errRecorderStop)
}
