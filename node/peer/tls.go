package peer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/syncnet/syncnet/node/certs"
)

// Mutual TLS on the peer port (Config.TLS). Both ends present a
// certificate of the cluster CA naming their node id (node/certs):
//
//   - the listener requires a client certificate, verifies it against its
//     CA bundle and learns the dialer's id from it; the hello that follows
//     must claim that same id, so a node cannot speak for another;
//   - the dialer verifies the listener's certificate against its bundle
//     and requires it to name the peer it meant to reach, so a listener
//     without that node's key (an impostor on its address) gets nothing:
//     not the hello, not one frame.
//
// TLS 1.3 only; no session resumption (every connection checks the
// certificates as they are now). The credentials are read from the Store
// at each handshake, so a reload (SIGHUP) applies to new connections.
// The HMAC hello and frames run unchanged inside the TLS connection.

// storeCert presents the Store's certificate as it is.
func storeCert(st *certs.Store) func() *tls.Certificate {
	return func() *tls.Certificate { return &st.Current().Cert }
}

// ringKeyLabel is the TLS exporter label of the key that authenticates and
// encrypts ring datagrams from the dialer of a connection to its listener.
const ringKeyLabel = "EXPORTER-syncnet-ring-v1"

// RingKeyLen is the size of a link key (LinkKey).
const RingKeyLen = 32

// LinkKey is a key both ends of a peer connection derived from its TLS
// session: for ring datagrams from the dialer (From) to the listener (To).
// A new connection, after either end restarts, gives a new key.
type LinkKey struct {
	From, To string
	Key      []byte
}

func serverConfig(st *certs.Store, own func() *tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		ClientAuth:             tls.RequireAnyClientCert, // verified below, against the bundle of the moment
		SessionTicketsDisabled: true,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return own(), nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := certs.Verify(cs.PeerCertificates, st.Current().Roots, time.Now(), x509.ExtKeyUsageClientAuth)
			return err
		},
	}
}

func clientConfig(st *certs.Store, own func() *tls.Certificate, peerID string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// The chain and the node id are checked in VerifyConnection: a
		// peer is named by its node id, not by a host name.
		InsecureSkipVerify: true,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return own(), nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			id, err := certs.Verify(cs.PeerCertificates, st.Current().Roots, time.Now(), x509.ExtKeyUsageServerAuth)
			if err != nil {
				return fmt.Errorf("listener at %s: %w", peerID, err)
			}
			if id != peerID {
				return fmt.Errorf("the listener at %s's address presents the certificate of %s: not the node this link is for", peerID, id)
			}
			return nil
		},
	}
}

// acceptTLS runs the listener's handshake and returns the connection and
// the dialer's verified node id.
func acceptTLS(conn net.Conn, st *certs.Store, own func() *tls.Certificate, timeout time.Duration) (*tls.Conn, string, error) {
	tc := tls.Server(conn, serverConfig(st, own))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, "", fmt.Errorf("TLS handshake: %w", err)
	}
	id, err := certs.NodeID(tc.ConnectionState().PeerCertificates[0])
	if err != nil {
		return nil, "", err
	}
	return tc, id, nil
}

// dialTLS runs the dialer's handshake with the listener that must be peerID.
func dialTLS(ctx context.Context, conn net.Conn, st *certs.Store, own func() *tls.Certificate, peerID string, timeout time.Duration) (*tls.Conn, error) {
	tc := tls.Client(conn, clientConfig(st, own, peerID))
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("TLS handshake with %s: %w", peerID, err)
	}
	return tc, nil
}

// linkKey derives the ring key of a connection from its TLS session.
func linkKey(tc *tls.Conn, from, to string) (LinkKey, error) {
	cs := tc.ConnectionState()
	k, err := cs.ExportKeyingMaterial(ringKeyLabel, []byte(from+"\x00"+to), RingKeyLen)
	if err != nil {
		return LinkKey{}, err
	}
	return LinkKey{From: from, To: to, Key: k}, nil
}

// certRefusal tells a handshake refused for certificates (worth a
// warning: a misconfiguration or an impostor) from a network failure, and
// says which end refused.
func certRefusal(err error) (string, bool) {
	var ve *tls.CertificateVerificationError
	if errors.As(err, &ve) || err != nil && strings.Contains(err.Error(), "listener at") {
		return "peer refused: its certificate does not check", true
	}
	if err != nil && strings.Contains(err.Error(), "remote error: tls:") {
		return "peer refused this node's certificate (its log says why)", true
	}
	return "", false
}

// ownCert is this node's certificate for a handshake; an expired one is
// still presented (the peer refuses it and says so) and logged here, at
// most once a minute.
func (t *Transport) ownCert() *tls.Certificate {
	c := t.cfg.TLS.Current()
	if now := time.Now(); now.After(c.NotAfter()) {
		if ok, _ := t.expiredLog.allow(now); ok {
			t.cfg.Logger.Error("this node's peer certificate has expired: peers refuse it; issue a new one and reload (SIGHUP)",
				"file", c.CertPath, "expired_at", c.NotAfter().UTC().Format(time.RFC3339))
		}
	}
	return &c.Cert
}
