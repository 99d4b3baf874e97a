package sshui

import (
	"math/rand"
	"strings"
	"testing"
)

// quickID reads a post's leading --id flags exactly as the flag package
// does (leadingFlags, then Parse), or declines: for every line it accepts,
// the id and the rest of the line are the flag package's.
func TestQuickIDAgreesWithFlagPackage(t *testing.T) {
	lines := []string{
		"", "general hi", "--id abc general hi", "-id abc general hi", "--id=abc general hi",
		"-id=abc general  two  spaces", "--id a --id b general hi", "--id=a -id b general x",
		"--id= general hi", "--id", "--id  abc", "--id -x general", "--id -- general hi",
		"-- general hi", "--stream", "--id x --stream", "--reply 3 general hi", "--id x --reply 3 general hi",
		"---id x general", "-x general", "- general", "--idx general", "--id=a=b general hi",
		"--help", "-h", "--id x\tgeneral\nline two", "@bob --id x", "general --id x",
	}
	words := []string{"--id", "-id", "--id=", "--id=v", "-id=w", "x", "y z", "--", "-", "--stream", "--reply", "7", "general", "-h", "\t", "\n", "---id"}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 5000; i++ {
		var b strings.Builder
		for n := rng.Intn(6); n > 0; n-- {
			b.WriteString(words[rng.Intn(len(words))])
			b.WriteString([]string{" ", "  ", "\t"}[rng.Intn(3)])
		}
		lines = append(lines, b.String())
	}
	c := cmdPost()
	accepted := 0
	for _, line := range lines {
		q := cmdLine{line}
		id, ok := quickID(&q)
		if !ok {
			if q.s != line {
				t.Fatalf("%q: declined but consumed the line (left %q)", line, q.s)
			}
			continue
		}
		accepted++
		f := cmdLine{line}
		pf := newPostFlags(c)
		if err := pf.fs.Parse(f.leadingFlags(pf.fs)); err != nil {
			t.Fatalf("%q: quickID accepted (id %q), the flag package fails: %v", line, id, err)
		}
		if *pf.id != id || *pf.reply != "" || *pf.streamOn || q.s != f.s {
			t.Fatalf("%q: quickID id %q rest %q; flag package id %q reply %q stream %v rest %q",
				line, id, q.s, *pf.id, *pf.reply, *pf.streamOn, f.s)
		}
	}
	if accepted < len(lines)/4 {
		t.Fatalf("quickID accepted only %d of %d lines: the comparison tests little", accepted, len(lines))
	}
}
