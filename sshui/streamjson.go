package sshui

import (
	"strconv"
	"unicode/utf8"
)

// This file: the JSON of `post --stream` without reflection for the lines
// bots send: one flat object of known keys with plain string values.
// Anything else (an escape, an unknown or differently cased key, a nested
// value, a number) makes parseStreamLine give up, and the line goes
// through encoding/json, whose answer and error messages stay the
// contract. Decoding each line with a json.Decoder was a third of the
// stream's own CPU on the leader.

// parseStreamLine parses raw into l when raw is a line of the plain form;
// ok false means "use encoding/json" (l is then undefined), never that
// the line is bad.
func parseStreamLine(raw []byte, l *streamLine) (ok bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return false
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return skipSpace(raw, i+1) == len(raw)
	}
	var seen [5]bool // a repeated key goes to encoding/json (last one wins there)
	for {
		key, j, ok := plainString(raw, i)
		if !ok {
			return false
		}
		i = skipSpace(raw, j)
		if i >= len(raw) || raw[i] != ':' {
			return false
		}
		i = skipSpace(raw, i+1)
		k := streamKey(key)
		if k < 0 || seen[k] {
			return false
		}
		seen[k] = true
		if k == keyAction {
			switch {
			case hasPrefixAt(raw, i, "true"):
				l.Action, i = true, i+4
			case hasPrefixAt(raw, i, "false"):
				l.Action, i = false, i+5
			default:
				return false
			}
		} else {
			v, j, ok := plainString(raw, i)
			if !ok {
				return false
			}
			i = j
			switch k {
			case keyRoom:
				l.Room = string(v)
			case keyTo:
				l.To = string(v)
			case keyText:
				l.Text = string(v)
			case keyID:
				l.ID = string(v)
			}
		}
		i = skipSpace(raw, i)
		if i >= len(raw) {
			return false
		}
		switch raw[i] {
		case ',':
			i = skipSpace(raw, i+1)
		case '}':
			return skipSpace(raw, i+1) == len(raw)
		default:
			return false
		}
	}
}

const (
	keyRoom = iota
	keyTo
	keyText
	keyID
	keyAction
)

func streamKey(k []byte) int {
	switch string(k) {
	case "room":
		return keyRoom
	case "to":
		return keyTo
	case "text":
		return keyText
	case "id":
		return keyID
	case "action":
		return keyAction
	}
	return -1
}

// plainString reads a JSON string at raw[i] that holds no escape, no
// control character and only valid UTF-8 (what encoding/json would
// return unchanged); it returns its bytes and the index after it.
func plainString(raw []byte, i int) ([]byte, int, bool) {
	if i >= len(raw) || raw[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(raw); {
		c := raw[j]
		switch {
		case c == '"':
			return raw[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		case c < utf8.RuneSelf:
			j++
		default:
			r, n := utf8.DecodeRune(raw[j:])
			if r == utf8.RuneError && n <= 1 {
				return nil, 0, false
			}
			j += n
		}
	}
	return nil, 0, false
}

func skipSpace(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\r' || raw[i] == '\n') {
		i++
	}
	return i
}

func hasPrefixAt(raw []byte, i int, p string) bool {
	return len(raw)-i >= len(p) && string(raw[i:i+len(p)]) == p
}

// appendAck appends a's JSON line, as encoding/json's Encoder would write
// it (same keys, order, omissions and escaping), without reflection.
func appendAck(b []byte, a streamAck) []byte {
	b = append(b, '{')
	sep := false
	field := func(name string) {
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
	}
	if a.ID != "" {
		field("id")
		b = appendJSONString(b, a.ID)
	}
	if a.Index != 0 {
		field("index")
		b = strconv.AppendUint(b, a.Index, 10)
	}
	if a.Line != 0 {
		field("line")
		b = strconv.AppendInt(b, int64(a.Line), 10)
	}
	if a.Error != "" {
		field("error")
		b = appendJSONString(b, a.Error)
	}
	if a.Retry {
		field("retry")
		b = append(b, "true"...)
	}
	if a.RetryAfter != 0 {
		field("retry_after_ms")
		b = strconv.AppendInt(b, a.RetryAfter, 10)
	}
	return append(b, '}', '\n')
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does with HTML escaping on
// (its default): <, > and & as \u00XX, U+2028 and U+2029 escaped, invalid
// UTF-8 as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += n
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += n
			start = i
			continue
		}
		i += n
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
