package sshui_test

import (
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"
	"github.com/syncnet/syncnet/node/api"
	. "github.com/syncnet/syncnet/sshui"
)

func member(id string, online, leader bool, leaderID string, term uint64) api.MemberStatus {
	return api.MemberStatus{ID: id, Online: online, Leader: leader, LeaderID: leaderID, Term: term,
		Uptime: 26*time.Hour + 3*time.Minute, Clients: 12, Messages: 3400, CommitIndex: 3521,
		LogHash: "9f86d081884c@3520", SSHPort: 2222, PeerPort: 7001, HeartbeatPort: 7101}
}

func TestClusterHealth(t *testing.T) {
	cases := []struct {
		name string
		st   api.ClusterStatus
		want Health
	}{
		{"healthy", api.ClusterStatus{Quorum: true, Members: []api.MemberStatus{
			member("n1", true, true, "n1", 4), member("n2", true, false, "n1", 4), member("n3", true, false, "n1", 4)}}, Healthy},
		{"degraded", api.ClusterStatus{Quorum: true, Members: []api.MemberStatus{
			member("n1", true, true, "n1", 4), member("n2", true, false, "n1", 4), member("n3", false, false, "", 3)}}, Degraded},
		// 1 of 3 up was NO LEADER; without a majority nothing commits: NO QUORUM.
		{"no quorum", api.ClusterStatus{Quorum: false, Members: []api.MemberStatus{
			member("n1", true, false, "", 5), member("n2", false, false, "", 4), member("n3", false, false, "", 3)}}, NoQuorum},
		{"no quorum, a stale leader", api.ClusterStatus{Quorum: false, Members: []api.MemberStatus{
			member("n1", true, true, "n1", 5), member("n2", false, false, "", 4), member("n3", false, false, "", 3)}}, NoQuorum},
		{"no leader", api.ClusterStatus{Quorum: false, Members: []api.MemberStatus{
			member("n1", true, false, "", 5), member("n2", true, false, "", 5), member("n3", false, false, "", 3)}}, NoLeader},
		{"split names", api.ClusterStatus{Quorum: true, Members: []api.MemberStatus{
			member("n1", true, true, "n1", 4), member("n2", true, false, "n3", 4), member("n3", true, false, "n3", 4)}}, Split},
		{"two leaders", api.ClusterStatus{Quorum: true, Members: []api.MemberStatus{
			member("n1", true, true, "n1", 4), member("n2", true, true, "n2", 4), member("n3", true, false, "", 4)}}, Split},
		{"old term leader is fine", api.ClusterStatus{Quorum: true, Members: []api.MemberStatus{
			member("n1", true, true, "n1", 5), member("n2", true, false, "n1", 5), member("n3", true, false, "n2", 4)}}, Healthy},
	}
	for _, c := range cases {
		if got, _, _ := ClusterHealth(c.st); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestStatusTableGolden(t *testing.T) {
	st := api.ClusterStatus{Node: "node1", Leader: "node2", Term: 7, Quorum: true, Members: []api.MemberStatus{
		member("node1", true, false, "node2", 7), member("node2", true, true, "node2", 7),
		{ID: "node3\x1b[31m", Online: false, Term: 6, SSHPort: 2224, PeerPort: 7003, HeartbeatPort: 7103},
	}}
	now := time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)
	v := StatusView{Now: now, LastSeen: map[string]time.Time{"node3\x1b[31m": now.Add(-12 * time.Second)}}
	t.Run("table", func(t *testing.T) { golden.RequireEqual(t, []byte(StatusTable(st, v))) })
	t.Run("simple", func(t *testing.T) { golden.RequireEqual(t, []byte(StatusSimple(st, v))) })
}
