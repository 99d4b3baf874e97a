package sshui

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/charmbracelet/ssh"
)

// MaxNameLen is the longest chat or room name.
const MaxNameLen = 32

// AdminName is the reserved user name for admin keys.
const AdminName = "admin"

// NormalizeName lowercases name and checks it is 1–32 of [a-z0-9_-].
func NormalizeName(name string) (string, error) {
	n := strings.ToLower(name)
	if n == "" || len(n) > MaxNameLen {
		return "", fmt.Errorf("name %q: must be 1-%d characters", Clean(name, MaxNameLen+8), MaxNameLen)
	}
	for _, c := range n {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
		if !ok {
			return "", fmt.Errorf("name %q: only a-z, 0-9, _ and - are allowed", Clean(name, MaxNameLen+8))
		}
	}
	return n, nil
}

// NormalizeRoom accepts "general" or "#general" and returns "general".
func NormalizeRoom(room string) (string, error) {
	r, err := NormalizeName(strings.TrimPrefix(room, "#"))
	if err != nil {
		return "", fmt.Errorf("room: %w", err)
	}
	return r, nil
}

// Fingerprint is the OpenSSH SHA256 fingerprint of k ("SHA256:…").
func Fingerprint(k ssh.PublicKey) string {
	sum := sha256.Sum256(k.Marshal())
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}
