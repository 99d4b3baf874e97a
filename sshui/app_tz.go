package sshui

// Times in the user's own zone, and a day separator where the date
// changes: a bare HH:MM in the server's zone misleads anyone elsewhere or
// reading yesterday's lines.

import (
	"errors"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	// The zone database, built in: a server (a container, a minimal image)
	// may have no /usr/share/zoneinfo, and then every TZ and /tz would fail.
	_ "time/tzdata"
)

// loadZone resolves a zone name as TZ or /tz gives it ("Europe/Berlin",
// ":Europe/Berlin", "UTC"). Names are bounded and plain: they come from
// the client.
func loadZone(name string) (*time.Location, error) {
	name = strings.TrimPrefix(strings.TrimSpace(name), ":")
	if name == "" || len(name) > 64 || strings.ContainsFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/_+-", r))
	}) {
		return nil, errors.New("unknown time zone " + Clean(name, 64))
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, errors.New("unknown time zone " + name)
	}
	return loc, nil
}

// zoneFromEnv is the zone of the session's TZ (OpenSSH sends it with
// SetEnv TZ=… or SendEnv TZ), UTC without one. problem says why a TZ that
// was sent is not used.
func zoneFromEnv(env []string) (loc *time.Location, problem string) {
	tz := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "TZ="); ok {
			tz = v
		}
	}
	if tz == "" {
		return time.UTC, ""
	}
	loc, err := loadZone(tz)
	if err != nil {
		return time.UTC, "your TZ=" + Clean(tz, 64) + " is not a zone name (like Europe/Berlin): times are in UTC; /tz ZONE sets one"
	}
	return loc, ""
}

// setZone shows every time in loc from now on (rendered lines are redrawn).
func (a *App) setZone(loc *time.Location) {
	a.loc = loc
	a.zoneGen++
}

// zoneText names the zone and its current offset, for /tz.
func (a *App) zoneText() string {
	abbr, off := time.Now().In(a.loc).Zone()
	s := a.loc.String()
	if abbr != s {
		s += " (" + abbr + ")"
	}
	if off != 0 || a.loc != time.UTC {
		s += ", UTC" + time.Now().In(a.loc).Format("-07:00")
	}
	return s
}

// dayOf is l's calendar day in the user's zone (0: no time), cached per zone.
func (a *App) dayOf(l *chatLine) int32 {
	if l.t.IsZero() || l.system {
		return 0
	}
	if l.dayGen != a.zoneGen+1 {
		y, m, d := l.t.In(a.loc).Date()
		l.day, l.dayGen = int32(y*10000+int(m)*100+d), a.zoneGen+1
	}
	return l.day
}

// daySeparator is the row above a day's first line: its date and zone.
func (a *App) daySeparator(t time.Time, w int) string {
	t = t.In(a.loc)
	abbr, _ := t.Zone()
	label := "── " + t.Format("Monday 2 January 2006") + " (" + abbr + ") "
	return a.st.system.R(Fit(label+strings.Repeat("─", max(w-Width(label), 0)), w))
}

// cmdTz shows or sets the zone times are shown in, for this session.
func (a *App) cmdTz(args []string, _ string) tea.Cmd {
	if len(args) == 0 {
		a.notice("times are shown in " + a.zoneText() + "; /tz ZONE changes it (like /tz Europe/Berlin or /tz UTC)")
		return nil
	}
	loc, err := loadZone(args[0])
	if err != nil {
		a.notice(err.Error() + ": use a name like Europe/Berlin, America/New_York or UTC")
		return nil
	}
	a.setZone(loc)
	a.notice("times are now shown in " + a.zoneText())
	return nil
}
