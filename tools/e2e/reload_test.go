package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadLiveKeys: `ssh admin@node reload` applies a new admin key and a
// lower session cap on that node only; a reload that also changes a key
// that cannot change live is refused naming it, and a bad admin key file
// changes nothing; SIGHUP does the same as the command.
func TestReloadLiveKeys(t *testing.T) {
	c := start(t, 3)
	newAdmin, newAdminPK := newKey(t)
	text, err := os.ReadFile(c.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	orig := string(text)
	write := func(s string) {
		if err := os.WriteFile(c.cfgPath, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.run("node1", "admin", newAdmin, 10*time.Second, "status"); err == nil {
		t.Fatal("the new key is admin before the reload")
	}

	// A key that cannot change live with the admin key: refused, nothing applied.
	write(strings.Replace(strings.Replace(orig, `admin_keys = [`, `admin_keys = ["`+newAdminPK+`", `, 1),
		`failure_timeout = "400ms"`, `failure_timeout = "500ms"`, 1))
	out, err := c.run("node1", "admin", c.admin, 10*time.Second, "reload")
	if err == nil || !strings.Contains(err.Error(), "timing.failure_timeout") || !strings.Contains(err.Error(), "nothing changed") {
		t.Fatalf("reload with a fixed key changed: out %q err %v", out, err)
	}
	if _, err := c.run("node1", "admin", newAdmin, 10*time.Second, "status"); err == nil {
		t.Fatal("a refused reload let the new admin key in")
	}

	// A bad admin key with a good one: refused, nothing applied.
	write(strings.Replace(orig, `admin_keys = [`, `admin_keys = ["`+newAdminPK+`", "ssh-ed25519 broken", `, 1))
	if out, err := c.run("node1", "admin", c.admin, 10*time.Second, "reload"); err == nil || !strings.Contains(err.Error(), "not a public key") {
		t.Fatalf("reload with a bad admin key: out %q err %v", out, err)
	}
	if _, err := c.run("node1", "admin", newAdmin, 10*time.Second, "status"); err == nil {
		t.Fatal("a refused reload let the new admin key in")
	}

	// The same in an admin key file: the good key in it is not taken either.
	keyFile := filepath.Join(c.dir, "more_admins")
	if err := os.WriteFile(keyFile, []byte(newAdminPK+"\nssh-ed25519 broken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	write(strings.Replace(orig, `admin_keys = [`, fmt.Sprintf("admin_keys_file = %q\nadmin_keys = [", keyFile), 1))
	if out, err := c.run("node1", "admin", c.admin, 10*time.Second, "reload"); err == nil ||
		!strings.Contains(err.Error(), "auth.admin_keys_file") || !strings.Contains(err.Error(), "line 2 is not a public key") || !strings.Contains(err.Error(), "nothing changed") {
		t.Fatalf("reload with a bad admin key file: out %q err %v", out, err)
	}
	if _, err := c.run("node1", "admin", newAdmin, 10*time.Second, "status"); err == nil {
		t.Fatal("a refused reload let a key of the bad file in")
	}

	// Only live keys: applied on node1, named.
	write(strings.Replace(orig, `admin_keys = [`, `admin_keys = ["`+newAdminPK+`", `, 1))
	out, err = c.run("node1", "admin", c.admin, 10*time.Second, "reload")
	if err != nil || !strings.Contains(out, "admin keys: 1 -> 2") {
		t.Fatalf("reload: out %q err %v", out, err)
	}
	if _, err := c.run("node1", "admin", newAdmin, 10*time.Second, "status"); err != nil {
		t.Fatalf("the new admin key after the reload: %v", err)
	}
	if _, err := c.run("node2", "admin", newAdmin, 10*time.Second, "status"); err == nil {
		t.Fatal("node2 took the new admin key without a reload")
	}

	// SIGHUP on node2 does the same.
	if err := c.signal("node2", syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := c.run("node2", "admin", newAdmin, 10*time.Second, "status"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node2 after SIGHUP refuses the new admin key:\n%s", tail(c.nodes["node2"].logPath, 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if log, _ := os.ReadFile(c.nodes["node2"].logPath); !strings.Contains(string(log), `msg=reloaded`) || !strings.Contains(string(log), "admin keys: 1 -> 2") {
		t.Errorf("node2's log does not say what the reload changed:\n%s", tail(c.nodes["node2"].logPath, 20))
	}

	// [limits]: node1's front end paces every user at the new allowance
	// from the next post (a burst of 2 at 0.01/s: the third post at once
	// is refused).
	write(strings.Replace(orig, `admin_keys = [`, `admin_keys = ["`+newAdminPK+`", `, 1) + "\n[limits]\npost_rate = 0.01\npost_burst = 2\n")
	out, err = c.run("node1", "admin", c.admin, 10*time.Second, "reload")
	if err != nil || !strings.Contains(out, "limits.post_rate: 10 -> 0.01") || !strings.Contains(out, "limits.post_burst: 40 -> 2") {
		t.Fatalf("reload of [limits]: out %q err %v", out, err)
	}
	for i := 0; i < 3; i++ {
		_, err := c.post("node1", "dave", "general", fmt.Sprintf("paced-%d", i), fmt.Sprintf("paced-%d", i))
		if i < 2 && err != nil {
			t.Fatalf("post %d of a burst of 2: %v", i+1, err)
		}
		if i == 2 && (err == nil || !strings.Contains(err.Error(), "rate limited")) {
			t.Fatalf("a third post at once after lowering [limits] to a burst of 2: %v", err)
		}
	}
}
