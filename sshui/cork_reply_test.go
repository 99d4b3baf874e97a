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
