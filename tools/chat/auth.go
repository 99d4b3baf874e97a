package chat

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// AuthOptions says where keys come from, in OpenSSH's order: the -i files,
// then the agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa.
type AuthOptions struct {
	KeyFiles  []string // -i; a file that cannot be used is an error
	AgentSock string   // SSH_AUTH_SOCK ("" : no agent)
	Home      string   // for ~/.ssh defaults ("" : none)
	// Passphrase, if set, is asked for an encrypted key; nil skips
	// encrypted default keys (and fails for an encrypted -i key).
	Passphrase func(path string) ([]byte, error)
}

// Auth holds the signers found and the agent connection, if any.
type Auth struct {
	signers []ssh.Signer
	agent   net.Conn
	Notes   []string // keys skipped and why (for a verbose or error message)
}

// LoadAuth collects signers from opts. Close releases the agent.
func LoadAuth(opts AuthOptions) (*Auth, error) {
	a := &Auth{}
	for _, p := range opts.KeyFiles {
		s, err := loadKey(p, opts.Passphrase)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", p, err)
		}
		a.add(s)
	}
	if opts.AgentSock != "" {
		if c, err := net.Dial("unix", opts.AgentSock); err != nil {
			a.Notes = append(a.Notes, fmt.Sprintf("ssh agent %s: %v", opts.AgentSock, err))
		} else if ss, err := agent.NewClient(c).Signers(); err != nil {
			_ = c.Close()
			a.Notes = append(a.Notes, fmt.Sprintf("ssh agent: %v", err))
		} else {
			a.agent = c
			for _, s := range ss {
				a.add(s)
			}
		}
	}
	if opts.Home != "" {
		for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			p := filepath.Join(opts.Home, ".ssh", name)
			if _, err := os.Stat(p); err != nil {
				continue
			}
			s, err := loadKey(p, opts.Passphrase)
			if err != nil {
				a.Notes = append(a.Notes, fmt.Sprintf("skipped %s: %v", p, err))
				continue
			}
			a.add(s)
		}
	}
	if len(a.signers) == 0 {
		a.Close()
		return nil, fmt.Errorf("no SSH key: use -i KEY, an ssh-agent, or create one with ssh-keygen -t ed25519 %v", a.Notes)
	}
	return a, nil
}

func (a *Auth) add(s ssh.Signer) {
	k := s.PublicKey().Marshal()
	for _, have := range a.signers {
		if bytes.Equal(have.PublicKey().Marshal(), k) {
			return
		}
	}
	a.signers = append(a.signers, s)
}

// Methods is the auth list for Config.Auth.
func (a *Auth) Methods() []ssh.AuthMethod {
	return []ssh.AuthMethod{ssh.PublicKeys(a.signers...)}
}

// Signers lists the keys in the order they are offered.
func (a *Auth) Signers() []ssh.Signer { return a.signers }

// Close ends the agent connection.
func (a *Auth) Close() {
	if a.agent != nil {
		_ = a.agent.Close()
	}
}

func loadKey(path string, pass func(string) ([]byte, error)) (ssh.Signer, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	if !errors.As(err, &missing) {
		return s, err
	}
	if pass == nil {
		return nil, errors.New("encrypted: add it to ssh-agent (ssh-add) or run interactively")
	}
	pw, err := pass(path)
	if err != nil {
		return nil, err
	}
	return ssh.ParsePrivateKeyWithPassphrase(pem, pw)
}
