package bench

import (
	"bytes"
	"fmt"
)

// tokens makes and finds message tokens: "BT" + run id + "n" + seq + "z".
// The terminator keeps a token cut short by a narrow screen from matching.
type tokens struct {
	prefix []byte // "BT" + run + "n"
}

func newTokens(run string) tokens { return tokens{prefix: []byte("BT" + run + "n")} }

func (t tokens) make(seq int) string { return fmt.Sprintf("%s%dz", t.prefix, seq) }

// scan calls found for every complete token in text.
func (t tokens) scan(text []byte, found func(seq int)) {
	for {
		i := bytes.Index(text, t.prefix)
		if i < 0 {
			return
		}
		text = text[i+len(t.prefix):]
		seq, n := 0, 0
		for n < len(text) && n < 9 && text[n] >= '0' && text[n] <= '9' {
			seq = seq*10 + int(text[n]-'0')
			n++
		}
		if n > 0 && n < len(text) && text[n] == 'z' {
			found(seq)
		}
	}
}
