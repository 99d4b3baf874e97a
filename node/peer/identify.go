package peer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"time"

	"github.com/syncnet/syncnet/node/certs"
)

// Identify asks the listener at addr who it is: a TLS handshake (this
// node's certificate offered as on every link) whose only check is that the
// listener's certificate is one of the cluster CA's, and whose answer is the
// node id it names. Nothing else is sent. A node joining with only an
// address (`syncnet node --join HOST:PEER_PORT`) learns whom it talks to,
// then dials that node as usual, which checks the id again.
func Identify(ctx context.Context, addr string, st *certs.Store, timeout time.Duration) (string, error) {
	if st == nil {
		return "", fmt.Errorf("identify %s: peer links without TLS name no node; give ID@%s", addr, addr)
	}
	if timeout <= 0 {
		timeout = time.Second
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	var id string
	own := storeCert(st)
	tc := tls.Client(conn, &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // checked below, against the cluster CA; a node id is no host name
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return own(), nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			var err error
			id, err = certs.Verify(cs.PeerCertificates, st.Current().Roots, time.Now(), x509.ExtKeyUsageServerAuth)
			if err != nil {
				return fmt.Errorf("listener at %s: %w", addr, err)
			}
			return nil
		},
	})
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return "", fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	tc.Close()
	return id, nil
}
