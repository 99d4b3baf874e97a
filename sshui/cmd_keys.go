package sshui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// cmdKeys lists and changes the keys that log in as a name.
func cmdKeys() command {
	c := command{name: "keys", usage: "[list] | add PUBLIC-KEY | remove FINGERPRINT  [--user NAME] [--json]",
		summary: "List, add or remove the keys that log in as your name: the same name works from every key\n" +
			"it has (a laptop and a desktop). add takes a public key line (ssh-ed25519 AAAA... comment; on\n" +
			"stdin if not given: ssh HOST keys add < ~/.ssh/id_ed25519.pub); a key of another name is\n" +
			"refused. remove takes a fingerprint from keys list; the last key is never removed. An admin\n" +
			"gives --user NAME to replace a lost key: add the new one, then remove the old one."}
	c.run = func(e *execEnv) int { return runKeys(e, c) }
	return c
}

// keysOp is one parsed keys command.
type keysOp struct {
	op    string // list, add, remove
	fp    string // add: of the key; remove: given
	label string // add: the key's type and comment
}

// parseKeysOp reads the words after "keys" (flags taken out); stdin is
// read for add without a key.
func parseKeysOp(pos []string, stdin func() (string, error)) (keysOp, error) {
	if len(pos) == 0 {
		return keysOp{op: "list"}, nil
	}
	op := keysOp{op: strings.ToLower(pos[0])}
	rest := pos[1:]
	switch op.op {
	case "list":
		if len(rest) > 0 {
			return keysOp{}, errors.New("keys list takes no arguments")
		}
	case "add":
		line := strings.Join(rest, " ")
		if line == "" && stdin != nil {
			in, err := stdin()
			if err != nil {
				return keysOp{}, err
			}
			line = strings.TrimSpace(in)
		}
		fp, label, err := parseKeyLine(line)
		if err != nil {
			return keysOp{}, err
		}
		op.fp, op.label = fp, label
	case "remove":
		if len(rest) != 1 {
			return keysOp{}, errors.New("keys remove needs one fingerprint (SHA256:..., as keys list shows it)")
		}
		if !strings.HasPrefix(rest[0], "SHA256:") || len(rest[0]) > 100 {
			return keysOp{}, fmt.Errorf("%q is not a key fingerprint: give SHA256:... as keys list shows it", Clean(rest[0], 60))
		}
		op.fp = rest[0]
	default:
		return keysOp{}, fmt.Errorf("unknown keys command %q (list, add, remove)", Clean(pos[0], 32))
	}
	return op, nil
}

// parseKeyLine reads a public key as authorized_keys holds it ("ssh-ed25519
// AAAA... comment") and returns its SHA256 fingerprint and a label: its
// type and comment.
func parseKeyLine(line string) (fp, label string, err error) {
	if strings.TrimSpace(line) == "" {
		return "", "", errors.New("keys add needs a public key line (ssh-ed25519 AAAA... comment), or one on stdin")
	}
	if strings.Contains(line, "PRIVATE KEY") {
		return "", "", errors.New("that is a PRIVATE key: never send it anywhere; give the .pub file's line")
	}
	pub, comment, _, _, err := gossh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return "", "", fmt.Errorf("not a public key line (%s): give one like the .pub file's (ssh-ed25519 AAAA... comment)", Clean(err.Error(), 80))
	}
	label = pub.Type()
	if c := Clean(comment, 60); c != "" {
		label += " " + c
	}
	return gossh.FingerprintSHA256(pub), label, nil
}

func runKeys(e *execEnv, c command) int {
	fs := newFlags(c)
	asJSON := fs.Bool("json", false, "one JSON object per key: fingerprint, label, current (this session's)")
	user := fs.String("user", "", "whose keys (admins only; default: yours)")
	pos, code, ok := parseArgs(e, c, fs)
	if !ok {
		return code
	}
	stdin := func() (string, error) {
		b, err := io.ReadAll(io.LimitReader(e.in, 16<<10))
		return string(b), err
	}
	op, err := parseKeysOp(pos, stdin)
	if err != nil {
		return usageErr(e, c, fs, "%v", err)
	}
	name := e.id.Name
	if *user != "" {
		if !e.id.Admin {
			return e.errorf("keys: permission denied: --user is for admins (your own keys need no flag)")
		}
		if name, err = NormalizeName(*user); err != nil {
			return usageErr(e, c, fs, "--user: %v", err)
		}
	}
	if _, bound := e.b.NameOwner(name); !bound {
		if *user != "" {
			return e.errorf("keys: no user %q", name)
		}
		if op.op == "list" {
			return e.errorf("keys: the name %q has no key yet: it is claimed by its first post or chat session", name)
		}
		if code, ok := e.claim(); !ok { // adding a key to a name claims it first
			return code
		}
	}
	if op.op != "list" {
		ctx, cancel := context.WithTimeout(e.ctx, e.srv.cfg.PostTimeout)
		defer cancel()
		if op.op == "add" {
			err = e.b.AddKey(ctx, e.id.Name, name, op.fp, op.label, e.id.Admin)
		} else {
			err = e.b.RemoveKey(ctx, e.id.Name, name, op.fp, e.id.Admin)
		}
		if err != nil {
			return e.errorf("keys: %s", explainChange(err, e.srv.cfg.PostTimeout.String()))
		}
	}
	e.finish()
	if *asJSON {
		for _, k := range e.b.Keys(name) {
			doc := keyDoc{Fingerprint: k.Fingerprint, Label: k.Label, Current: name == e.id.Name && k.Fingerprint == e.id.Fingerprint}
			if writeJSON(e.out, doc) != nil {
				return exitOK
			}
		}
		return exitOK
	}
	switch op.op {
	case "add":
		_, _ = fmt.Fprintf(e.out, "added %s (%s): it logs in as %s now\n", op.fp, Clean(op.label, 80), name)
	case "remove":
		_, _ = fmt.Fprintf(e.out, "removed %s from %s's keys\n", Clean(op.fp, 100), name)
	}
	_, _ = fmt.Fprint(e.out, userKeysText(e, name))
	return exitOK
}

// keyDoc is one line of keys --json.
type keyDoc struct {
	Fingerprint string `json:"fingerprint"`
	Label       string `json:"label,omitempty"`
	Current     bool   `json:"current,omitempty"`
}

// userKeysText lists name's keys, marking the session's own.
func userKeysText(e *execEnv, name string) string {
	rows := [][]string{{"FINGERPRINT", "KEY", ""}}
	for _, k := range e.b.Keys(name) {
		mark := ""
		if name == e.id.Name && k.Fingerprint == e.id.Fingerprint {
			mark = "(this session)"
		}
		label := Clean(k.Label, 80)
		if label == "" {
			label = "-"
		}
		rows = append(rows, []string{Clean(k.Fingerprint, 100), label, mark})
	}
	return table(rows)
}
