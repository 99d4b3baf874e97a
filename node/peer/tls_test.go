package peer

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node/certs"
)

// pki is a cluster CA in a temporary directory.
type pki struct {
	dir string
	ca  *certs.CA
}

func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	dir := t.TempDir()
	ca, err := certs.InitDir(dir, name, time.Now(), certs.DefaultCAValidity)
	if err != nil {
		t.Fatal(err)
	}
	return &pki{dir: dir, ca: ca}
}

// store issues id a certificate and loads it.
func (p *pki) store(t *testing.T, id string) *certs.Store {
	t.Helper()
	if _, err := p.ca.IssueFiles(p.dir, id, time.Now(), time.Hour, true); err != nil {
		t.Fatal(err)
	}
	s, err := certs.Open(certs.DirPaths(p.dir, id), id, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// unchecked builds credentials from PEM without Load's checks (an expired
// certificate, for the peer to refuse).
func unchecked(t *testing.T, p *pki, id string, certPEM, keyPEM []byte) *certs.Store {
	t.Helper()
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pair.Leaf = leaf
	roots := x509.NewCertPool()
	roots.AddCert(p.ca.Cert)
	return certs.Fixed(&certs.Creds{ID: id, Cert: pair, Roots: roots, CAs: []*x509.Certificate{p.ca.Cert}})
}

// logBuf collects log lines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuf) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// waitLog waits until the log holds want.
func waitLog(t *testing.T, l *logBuf, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(l.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("log never said %q; it holds:\n%s", want, l.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type tlsNode struct {
	id    string
	store *certs.Store
	log   *logBuf
	keys  chan LinkKey
}

// tlsCluster starts a transport per node, all knowing each other.
func tlsCluster(t *testing.T, nodes []*tlsNode) []*Transport {
	t.Helper()
	ls := make([]net.Listener, len(nodes))
	peers := map[string]string{}
	for i, n := range nodes {
		ls[i] = listen(t)
		peers[n.id] = ls[i].Addr().String()
	}
	ts := make([]*Transport, len(nodes))
	for i, n := range nodes {
		n.log = &logBuf{}
		n.keys = make(chan LinkKey, 64)
		tr, err := New(Config{ID: n.id, Secret: []byte("s3cret"), Peers: peers, Listener: ls[i], TLS: n.store,
			Logger: n.log.logger(), LinkKeys: func(k LinkKey) {
				select {
				case n.keys <- k:
				default:
				}
			}, ConnectTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ts[i] = tr
		t.Cleanup(func() { tr.Close() })
	}
	return ts
}

func recvFrame(t *testing.T, tr *Transport) Frame {
	t.Helper()
	select {
	case f := <-tr.Recv():
		return f
	case <-time.After(10 * time.Second):
		t.Fatalf("%s received nothing", tr.cfg.ID)
		return Frame{}
	}
}

// Frames flow over mutual TLS, and both ends of a connection derive the
// same ring key for it, a different one per direction.
func TestTLSFramesAndLinkKeys(t *testing.T) {
	p := newPKI(t, "test CA")
	nodes := []*tlsNode{{id: "n0", store: p.store(t, "n0")}, {id: "n1", store: p.store(t, "n1")}}
	ts := tlsCluster(t, nodes)
	waitConnected(t, ts[0], "n1")
	waitConnected(t, ts[1], "n0")
	for !ts[0].Send("n1", 7, []byte("hello over tls")) {
		time.Sleep(time.Millisecond)
	}
	if f := recvFrame(t, ts[1]); f.From != "n0" || string(f.Payload) != "hello over tls" {
		t.Fatalf("frame %+v", f)
	}
	got := map[string][][]byte{} // "from->to" -> keys reported by either end
	deadline := time.After(10 * time.Second)
	for len(got["n0->n1"]) < 2 || len(got["n1->n0"]) < 2 {
		select {
		case k := <-nodes[0].keys:
			got[k.From+"->"+k.To] = append(got[k.From+"->"+k.To], k.Key)
		case k := <-nodes[1].keys:
			got[k.From+"->"+k.To] = append(got[k.From+"->"+k.To], k.Key)
		case <-deadline:
			t.Fatalf("link keys: %v", got)
		}
	}
	a, b := got["n0->n1"], got["n1->n0"]
	if !bytes.Equal(a[0], a[1]) || !bytes.Equal(b[0], b[1]) {
		t.Fatal("the two ends of a connection derived different ring keys")
	}
	if bytes.Equal(a[0], b[0]) || len(a[0]) != RingKeyLen {
		t.Fatal("both directions got the same ring key")
	}
}

// A node whose certificate comes from another CA is refused by both ends,
// with a log line that says so.
func TestTLSWrongCARefused(t *testing.T) {
	p, other := newPKI(t, "cluster CA"), newPKI(t, "another CA")
	nodes := []*tlsNode{{id: "n0", store: other.store(t, "n0")}, {id: "n1", store: p.store(t, "n1")}}
	ts := tlsCluster(t, nodes)
	waitLog(t, nodes[1].log, "a CA this node does not trust")
	waitLog(t, nodes[0].log, "a CA this node does not trust")
	if ts[0].Connected("n1") || ts[1].Connected("n0") {
		t.Fatal("a link with a certificate of another CA came up")
	}
	// The log line can come from n1's dialer before its listener counts
	// its own refusal: wait for the counter.
	for deadline := time.Now().Add(10 * time.Second); ts[1].Stats().RejectedHandshake == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("refusal not counted")
		}
	}
}

// n2 holding n1's key and certificate cannot speak as n2: the listener
// refuses a hello that claims another id than the certificate, and a
// dialer refuses a listener whose certificate is not of the node it dials.
func TestTLSCertificateOfAnotherNodeRefused(t *testing.T) {
	p := newPKI(t, "cluster CA")
	stolen := p.store(t, "n1")
	nodes := []*tlsNode{{id: "n0", store: p.store(t, "n0")}, {id: "n1", store: p.store(t, "n1")}, {id: "n2", store: stolen}}
	ts := tlsCluster(t, nodes)
	waitLog(t, nodes[0].log, "hello claims to be n2 but the certificate is n1's")
	waitLog(t, nodes[0].log, "the listener at n2's address presents the certificate of n1")
	waitConnected(t, ts[0], "n1") // the honest n1 links as usual
	waitConnected(t, ts[2], "n0") // n2's dialer trusts n0: n0 refuses it after the hello
	if ts[0].Connected("n2") {
		t.Fatal("n0 linked to a listener with the wrong node's certificate")
	}
	for !ts[2].Send("n0", 7, []byte("forged")) {
		time.Sleep(time.Millisecond)
	}
	select {
	case f := <-ts[0].Recv():
		t.Fatalf("n0 received a frame from a node with another's certificate: %+v", f)
	case <-time.After(200 * time.Millisecond):
	}
}

// A listener whose certificate names another node than the one at its
// address in the configuration gets no link: nobody can reach it as n1.
func TestTLSListenerWithAnotherNodesCertificateRefused(t *testing.T) {
	p := newPKI(t, "cluster CA")
	nodes := []*tlsNode{{id: "n0", store: p.store(t, "n0")}, {id: "n1", store: p.store(t, "n1b")}}
	ts := tlsCluster(t, nodes)
	waitLog(t, nodes[0].log, "the listener at n1's address presents the certificate of n1b")
	if ts[0].Connected("n1") {
		t.Fatal("n0 linked to a listener with the wrong node's certificate")
	}
}

// An expired certificate is refused, and the log line says it expired and
// when.
func TestTLSExpiredCertificateRefused(t *testing.T) {
	p := newPKI(t, "cluster CA")
	certPEM, keyPEM, err := p.ca.Issue("n0", time.Now().Add(-48*time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	nodes := []*tlsNode{{id: "n0", store: unchecked(t, p, "n0", certPEM, keyPEM)}, {id: "n1", store: p.store(t, "n1")}}
	ts := tlsCluster(t, nodes)
	waitLog(t, nodes[1].log, "certificate of n0 (serial")
	waitLog(t, nodes[1].log, "expired at "+time.Now().Add(-24*time.Hour).UTC().Format("2006-01-02"))
	waitLog(t, nodes[0].log, "this node's peer certificate has expired")
	waitLog(t, nodes[0].log, "peer refused this node's certificate")
	if ts[0].Connected("n1") || ts[1].Connected("n0") {
		t.Fatal("a link with an expired certificate came up")
	}
}

// An impostor listening on a peer's address gets nothing from the dialer:
// with a certificate of another CA, or with none the dialer trusts, the
// handshake fails before the hello, so not one byte of application data
// (the hello, a frame) reaches it.
func TestTLSImpostorListenerGetsNothing(t *testing.T) {
	p, other := newPKI(t, "cluster CA"), newPKI(t, "impostor CA")
	impostorCert := other.store(t, "n1").Current().Cert
	l := listen(t)
	var got bytes.Buffer
	var mu sync.Mutex
	handshakes := make(chan error, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{impostorCert}, ClientAuth: tls.RequestClientCert})
				err := tc.Handshake()
				handshakes <- err
				if err != nil {
					return
				}
				// What a real listener does first: send a challenge.
				tc.Write(make([]byte, nonceLen))
				b, _ := io.ReadAll(tc)
				mu.Lock()
				got.Write(b)
				mu.Unlock()
			}()
		}
	}()
	log := &logBuf{}
	self := listen(t)
	tr, err := New(Config{ID: "n0", Secret: []byte("s3cret"), Peers: map[string]string{"n0": self.Addr().String(), "n1": l.Addr().String()},
		Listener: self, TLS: p.store(t, "n0"), Logger: log.logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	waitLog(t, log, "peer refused: its certificate does not check")
	for range 2 {
		select {
		case <-handshakes:
		case <-time.After(10 * time.Second):
			t.Fatal("the dialer never tried the impostor")
		}
	}
	tr.Send("n1", 7, []byte("secret chat line"))
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if got.Len() != 0 || tr.Connected("n1") || tr.Stats().Sent != 0 {
		t.Fatalf("the impostor received %d bytes (connected %v, sent %d)", got.Len(), tr.Connected("n1"), tr.Stats().Sent)
	}
}

// A dialer without TLS on a TLS port is refused, and counted.
func TestPlaintextDialerOnTLSPortRefused(t *testing.T) {
	p := newPKI(t, "cluster CA")
	ls := []net.Listener{listen(t), listen(t)}
	peers := map[string]string{"n0": ls[0].Addr().String(), "n1": ls[1].Addr().String()}
	log := &logBuf{}
	srv, err := New(Config{ID: "n1", Secret: []byte("s3cret"), Peers: peers, Listener: ls[1], TLS: p.store(t, "n1"), Logger: log.logger(),
		ConnectTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cli, err := New(Config{ID: "n0", Secret: []byte("s3cret"), Peers: peers, Listener: ls[0]})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	waitLog(t, log, "peer handshake rejected")
	for range 100 {
		cli.Send("n1", 7, []byte("plain"))
		time.Sleep(2 * time.Millisecond)
	}
	select {
	case f := <-srv.Recv():
		t.Fatalf("a plaintext frame was accepted: %+v", f)
	default:
	}
}

// A stream runs over TLS like the links: both ways with the right
// certificates, and refused by the dialer at the handshake when the
// listener's certificate names another node.
func TestStreamOverTLS(t *testing.T) {
	p := newPKI(t, "cluster CA")
	l := listen(t)
	srv, err := New(Config{ID: "srv", Secret: []byte("s3cret"), Peers: map[string]string{"srv": l.Addr().String(), "cli": "127.0.0.1:1"},
		Listener: l, Streams: echo, TLS: p.store(t, "srv")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cli := p.store(t, "cli")
	s, err := DialStream(context.Background(), StreamDial{ID: "cli", Secret: []byte("s3cret"), Peer: "srv", Addr: l.Addr().String(), TLS: cli}, []byte("give"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if typ, b, err := s.Recv(); err != nil || typ != 1 || string(b) != "give" {
		t.Fatalf("answer: %d %q %v", typ, b, err)
	}
	if err := s.Send(5, []byte("more")); err != nil {
		t.Fatal(err)
	}
	if typ, b, err := s.Recv(); err != nil || typ != 6 || string(b) != "more" {
		t.Fatalf("echo: %d %q %v", typ, b, err)
	}
	_, err = DialStream(context.Background(), StreamDial{ID: "cli", Secret: []byte("s3cret"), Peer: "other", Addr: l.Addr().String(), TLS: cli}, []byte("give"))
	if err == nil || !strings.Contains(err.Error(), "presents the certificate of srv") {
		t.Fatalf("a stream to a listener with another node's certificate: %v", err)
	}
	// Without TLS the dialer waits for a challenge the TLS listener never
	// sends in the clear.
	s2, err := DialStream(context.Background(), StreamDial{ID: "cli", Secret: []byte("s3cret"), Peer: "srv", Addr: l.Addr().String()}, []byte("give"))
	if err == nil {
		_, _, err = s2.Recv()
		s2.Close()
	}
	if err == nil {
		t.Fatal("a plaintext stream on a TLS port was answered")
	}
}

// A CA rotation without downtime: a node that trusts the old CA only
// refuses a certificate of the new one until its bundle holds both and it
// reloads; then old and new certificates link both ways, established
// links untouched.
func TestTLSCARotationOverlap(t *testing.T) {
	old, next := newPKI(t, "old CA"), newPKI(t, "new CA")
	n1 := old.store(t, "n1")
	nodes := []*tlsNode{{id: "n0", store: next.store(t, "n0")}, {id: "n1", store: n1}}
	// n0 already trusts both (it was given the bundle first).
	bundle := append(readFile(t, old.dir+"/ca.crt"), readFile(t, next.dir+"/ca.crt")...)
	writeFile(t, next.dir+"/ca.crt", bundle)
	if _, err := nodes[0].store.Reload(time.Now()); err != nil {
		t.Fatal(err)
	}
	ts := tlsCluster(t, nodes)
	waitLog(t, nodes[1].log, "a CA this node does not trust")
	if ts[0].Connected("n1") {
		t.Fatal("n1 trusts the old CA only, yet took a certificate of the new one")
	}
	writeFile(t, old.dir+"/ca.crt", bundle)
	what, err := n1.Reload(time.Now())
	if err != nil || !strings.Contains(what, "CA bundle 1 -> 2") {
		t.Fatalf("reload: %q %v", what, err)
	}
	waitConnected(t, ts[0], "n1")
	waitConnected(t, ts[1], "n0")
	for !ts[0].Send("n1", 7, []byte("across CAs")) {
		time.Sleep(time.Millisecond)
	}
	if f := recvFrame(t, ts[1]); string(f.Payload) != "across CAs" {
		t.Fatalf("frame %+v", f)
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
