package config

import (
	"strings"
	"testing"
)

// The example secret is refused once the nodes leave loopback, unless the
// operator says insecure = true; TLS files default to <data_dir>/certs.
func TestTLSConfig(t *testing.T) {
	lan := strings.ReplaceAll(strings.ReplaceAll(good, `"0123456789abcdef"`, `"`+ExampleSecret+`"`), `host = "127.0.0.1"`, `host = "10.0.0.1"`)
	lan = strings.Replace(lan, `host = "10.0.0.1"`, `host = "10.0.0.2"`, 1)
	_, err := Parse("/etc/x/cluster.toml", lan)
	if err == nil || !strings.Contains(err.Error(), "example secret") || !strings.Contains(err.Error(), "line 5:") {
		t.Fatalf("example secret on a LAN: %v", err)
	}
	if _, err := Parse("/etc/x/cluster.toml", lan+"\n[tls]\ninsecure = true\n"); err != nil {
		t.Fatalf("insecure = true: %v", err)
	}
	loop := strings.ReplaceAll(good, `"0123456789abcdef"`, `"`+ExampleSecret+`"`)
	c, err := Parse("/etc/x/cluster.toml", loop)
	if err != nil {
		t.Fatalf("example secret on loopback: %v", err)
	}
	ca, cert, key := c.TLSFiles("a")
	if ca != "/etc/x/d/certs/ca.crt" || cert != "/etc/x/d/certs/a.crt" || key != "/etc/x/d/certs/a.key" {
		t.Fatalf("default files %s %s %s", ca, cert, key)
	}
	c, err = Parse("/etc/x/cluster.toml", good+"\n[tls]\ndir = \"pki\"\nkey_file = \"/secure/a.key\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if ca, cert, key := c.TLSFiles("a"); ca != "/etc/x/pki/ca.crt" || cert != "/etc/x/pki/a.crt" || key != "/secure/a.key" {
		t.Fatalf("files %s %s %s", ca, cert, key)
	}
	if _, err := Parse("/etc/x/cluster.toml", good+"\n[tls]\ncert_file = \"\"\n"); err == nil || !strings.Contains(err.Error(), "tls.cert_file is empty") {
		t.Fatalf("empty cert_file: %v", err)
	}
}
