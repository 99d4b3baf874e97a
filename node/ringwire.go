package node

import (
	"fmt"
	"net"

	"github.com/syncnet/syncnet/ring"
)

// ringTransport is what the driver needs from the ring's network.
type ringTransport interface {
	Send(to string, m ring.Message) error
	Recv() <-chan ring.Message
	Close() error
}

// openRing binds (or takes) the heartbeat and election sockets and starts
// the ring's authenticated UDP transport on them.
func (n *Node) openRing(secret []byte, ls *Listeners) error {
	var err error
	hb, el := ls.Heartbeat, ls.Election
	if hb == nil {
		if hb, err = listenUDP(n.self.Host, n.self.HeartbeatPort); err != nil {
			return fmt.Errorf("bind heartbeat_port: %w", err)
		}
	}
	if el == nil {
		if el, err = listenUDP(n.self.Host, n.self.ElectionPort); err != nil {
			hb.Close()
			return fmt.Errorf("bind election_port: %w", err)
		}
	}
	hbAddrs, elAddrs := map[string]string{}, map[string]string{}
	for _, m := range n.cfg.Nodes {
		if m.ID != n.id {
			hbAddrs[m.ID] = addr(m.Host, m.HeartbeatPort)
			elAddrs[m.ID] = addr(m.Host, m.ElectionPort)
		}
	}
	t, err := ring.NewUDPTransport(ring.UDPConfig{
		ID: n.id, Incarnation: n.bootID, Secret: secret,
		HeartbeatConn: hb, ElectionConn: el, HeartbeatAddrs: hbAddrs, ElectionAddrs: elAddrs,
	})
	if err != nil {
		hb.Close()
		el.Close()
		return err
	}
	n.ringNet = t
	return nil
}

func listenUDP(host string, port int) (*net.UDPConn, error) {
	a, err := net.ResolveUDPAddr("udp", addr(host, port))
	if err != nil {
		return nil, err
	}
	return net.ListenUDP("udp", a)
}
