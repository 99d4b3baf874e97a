package sshui

import "testing"

func TestPostWithText(t *testing.T) {
	for line, want := range map[string]bool{
		"post general hi":                   true,
		"post --id x general hi":            true,
		"post -id=x @bob hello there":       true,
		"post general":                      false, // stdin
		"post general -":                    false, // stdin
		"post general  \t ":                 false,
		"post --stream":                     false,
		"post --reply 3 general hi":         false, // not read by quickID: not held
		"post --id":                         false,
		"history general":                   false,
		"posts general hi":                  false,
		"  post   general   text with gaps": true,
	} {
		if got := postWithText(line); got != want {
			t.Errorf("postWithText(%q) = %v, want %v", line, got, want)
		}
	}
}

// A held exec reply goes out with the post's last writes in one write; a
// channel opening on the connection sends it at once (its confirmation
// must not wait); a connection with another channel open holds nothing.
func TestHoldReply(t *testing.T) {
	w := &writeLog{}
	c := &corkConn{Conn: w}
	c.channelOpened()
	c.holdReply()
	_, _ = c.Write([]byte("reply"))
	c.cork() // the post's finish
	_, _ = c.Write([]byte("out"))
	c.uncork()
	if n := len(w.got()); n != 0 {
		t.Fatalf("%d writes before the reply was released, want 0", n)
	}
	c.releaseReply()
	if got := w.got(); len(got) != 1 || string(got[0]) != "replyout" {
		t.Fatalf("writes %q, want one: replyout", got)
	}

	c.holdReply()
	_, _ = c.Write([]byte("reply2"))
	c.channelOpened() // another session
	if got := w.got(); len(got) != 2 || string(got[1]) != "reply2" {
		t.Fatalf("a channel opened and the held reply stayed: writes %q", got)
	}
	_, _ = c.Write([]byte("confirm"))
	if got := w.got(); len(got) != 3 {
		t.Fatalf("a write while the hold is lifted was held: writes %q", got)
	}
	c.releaseReply()

	c.holdReply() // two channels open: nothing held
	_, _ = c.Write([]byte("x"))
	if got := w.got(); len(got) != 4 {
		t.Fatalf("held with two channels open: writes %q", got)
	}
	c.releaseReply()
	c.channelClosed()
	c.channelClosed()
	c.releaseReply() // none held: nothing happens
	if c.corks != 0 || c.channels != 0 {
		t.Fatalf("corks %d, channels %d after everything ended", c.corks, c.channels)
	}
}

// A reply held past its time goes out then; the post's last lines, corked
// after that, still go out together in one write.
func TestHeldReplyExpires(t *testing.T) {
	w := &writeLog{}
	c := &corkConn{Conn: w}
	c.channelOpened()
	c.holdReply()
	_, _ = c.Write([]byte("reply"))
	c.mu.Lock()
	gen := c.gen
	c.mu.Unlock()
	c.expire(gen) // as the timer would after replyHold
	if got := w.got(); len(got) != 1 || string(got[0]) != "reply" {
		t.Fatalf("writes %q after the hold's time, want the reply", got)
	}
	c.cork() // the post's finish
	_, _ = c.Write([]byte("out"))
	_, _ = c.Write([]byte("exit"))
	c.uncork()
	c.releaseReply() // nothing held any more
	if got := w.got(); len(got) != 2 || string(got[1]) != "outexit" {
		t.Fatalf("writes %q, want reply, then outexit as one", got)
	}

	// The hold's time is up while the post's own cork is on: the reply and
	// what was held go out, the rest of the post's lines still as one.
	c.holdReply()
	_, _ = c.Write([]byte("r2"))
	c.cork()
	_, _ = c.Write([]byte("o2"))
	c.mu.Lock()
	gen = c.gen
	c.mu.Unlock()
	c.expire(gen)
	_, _ = c.Write([]byte("e2"))
	_, _ = c.Write([]byte("x2"))
	c.uncork()
	c.releaseReply()
	if got := w.got(); len(got) != 4 || string(got[2]) != "r2o2" || string(got[3]) != "e2x2" {
		t.Fatalf("writes %q, want ..., r2o2, e2x2", got)
	}
	if c.corks != 0 || c.replyHeld || c.timer != nil {
		t.Fatalf("corks %d, reply held %v, timer %v at the end", c.corks, c.replyHeld, c.timer != nil)
	}
}
