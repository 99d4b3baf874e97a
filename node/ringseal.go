package node

import "github.com/syncnet/syncnet/node/peer"

// linkKey installs the ring key of a peer link that just came up
// (peer.Config.LinkKeys): datagrams between this node and that peer are
// sealed with it (ring.Sealer). Each TLS connection has its own, so a
// restart of either end replaces it.
func (n *Node) linkKey(k peer.LinkKey) {
	if n.seal == nil {
		return
	}
	if err := n.seal.SetKey(k.From, k.To, k.Key); err != nil {
		n.log.Warn("ring key of a peer link refused", "from", k.From, "to", k.To, "err", err)
	}
}
