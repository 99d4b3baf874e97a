package sshui

import (
	"slices"
	"strconv"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/syncnet/syncnet/node/api"
)

// appDeps is what the chat app needs; all of it is shared and safe for
// concurrent use except the renderer, which belongs to this session.
type appDeps struct {
	b      api.Backend
	cfg    *Config
	id     Identity
	r      *lipgloss.Renderer
	limit  *rateLimiter
	bell   interface{ Bell() }
	admins map[string]bool
	env    []string // the session's environment (TZ)
}

// App is one session's chat program model. Only the program's goroutine
// touches it (Update/View); Backend writes run in tea.Cmds.
type App struct {
	d      appDeps
	st     styles
	client *Client

	w, h   int
	convs  []string // joined rooms and open DMs ("@bob"), in display order
	cur    string
	bufs   map[string]*convBuf
	unread map[string]int
	// readMark is how far the user had read each conversation (restored
	// at login, raised as they leave one): the "new since" line goes
	// above the first message after it.
	readMark map[string]uint64
	members  []api.Presence
	status   api.ClusterStatus

	// Rendered side panes, rebuilt when nil (see dirty), and cached bars.
	roomsPane, membersPane []string
	title, titleKey        string
	titleW                 int
	statusBarText          string
	statusBarKey           statusBarKey
	statusBarOK            bool
	inputView, inputFit    string
	inputW                 int
	paneBuf, tailBuf       []string // reused by messagePane and renderTail
	rowsBuf                [][]span // reused by frame
	cellsBuf               []span

	// For frameModel: quiet marks an update that changed nothing on screen;
	// fresh counts lines added since the last frame.
	quiet bool
	fresh int

	news MembersMsg // the hub's last membership news (onMembers)
	acc  appAccess  // notification settings, mentions counted (app_access.go)
	// search is the open search pane (app_search.go); nil: closed.
	search *searchView

	input      lineInput
	submitting string // the input line being submitted (restoreInput)
	hist       []string
	histPos    int
	draft      string
	comp       completion

	outbox   []pending
	inflight bool
	retrying bool
	lamport  uint64
	away     bool
	exitMsg  string

	// Rate limit: the head of the outbox waits for a token (rateTick).
	rateTicking bool // a rateTick is scheduled
	rateSaid    bool // the user was told lines wait; cleared when the outbox was empty

	loc     *time.Location // times are shown in this zone (TZ, /tz)
	zoneGen int            // counts zone changes: rendered lines redraw
	zoneMsg string         // why the session's TZ is not used, said on start

	// A resync could not read History: stale buffers wait for resyncRetry.
	resyncFailing bool // the user was told; cleared once a retry works
	resyncTicking bool // a resyncRetry is scheduled

	// Edits, replies, reactions (app_messages.go).
	editing    *editState        // the message being edited in the input
	showIDs    bool              // /ids: lines show their message's index
	quotes     map[uint64]string // quoted messages read or seen ("name: text")
	quoting    map[uint64]bool   // being read (quoteCmd)
	needQuotes []uint64          // to be read after this update
	editHinted bool              // how to save or cancel an edit was said
	// confirmDelete is the message a bare /delete asked about; the next
	// bare /delete deletes it.
	confirmDelete uint64
}

// convBuf is the loaded part of one conversation.
type convBuf struct {
	lines  []chatLine
	first  uint64 // lowest loaded index (0: none)
	last   uint64 // highest index seen
	full   bool   // nothing older to load
	topic  string
	scroll int // lines scrolled back from the bottom

	// Older pages load off the event loop (loadOlder), one at a time.
	loading bool   // an older page is being read
	loadErr string // why the last older page failed (shown until retried)
	trims   int    // counts trims: a page read before one would leave a gap
	// stale: a resync could not read what follows last; live messages
	// (which come after the gap) are left to the retry, which reads from
	// last again, so none is lost or shown out of order.
	stale bool

	// The counts and start of the last joins/leaves summary line, and the
	// hub's count of the room's joins and leaves when it was made
	// (onMembers).
	churn      roomChurn
	churnSince time.Time
	churnSeen  roomChurn
}

type chatLine struct {
	idx     uint64
	t       time.Time
	from    string
	text    string // CleanText for messages (may hold line breaks), Clean for system lines
	action  bool
	system  bool
	mention bool
	summary bool // a system line counting joins and leaves (onMembers)

	cacheW   int      // width the cache was rendered for
	cacheSep bool     // … with a day separator above
	cacheGen int      // … in this zone (App.zoneGen)
	cache    []string // rendered, padded screen lines
	day      int32    // calendar day in the user's zone (App.dayOf)
	dayGen   int      // App.zoneGen+1 when day was computed

	x *lineExtra // a reply, edit, deletion, reactions, replies (app_messages.go); nil: none
}

// pending is a line waiting to be committed.
type pending struct {
	id      string
	conv    string
	text    string
	action  bool
	queued  bool   // failed for lack of quorum; being retried
	charged bool   // took its rate-limit token (when first sent)
	replyTo uint64 // the message it answers (/reply), 0: none
}

// Internal messages.
type (
	postResult struct {
		id  string
		idx uint64
		err error
	}
	opResult struct {
		ok   string // notice on success
		err  error
		then func(*App) tea.Cmd
	}
	retryTick struct{}
	// olderPage is an older page of conv read by loadOlder for buf, whose
	// first and trims were before and trims when it was asked for.
	olderPage struct {
		conv   string
		buf    *convBuf
		before uint64
		trims  int
		msgs   []api.Message
		err    error
	}
	resyncRetry struct{}
	rateTick    struct{}
)

const (
	historyPage = 100
	maxCols     = 1000 // larger windows are drawn at this size
	maxRows     = 500
)

func newApp(d appDeps) *App {
	a := &App{d: d, st: stylesFor(d.r), bufs: map[string]*convBuf{}, unread: map[string]int{}, readMark: map[string]uint64{}}
	a.d.r = nil // only the styles needed it
	a.loc, a.zoneMsg = zoneFromEnv(d.env)
	in := newLineInput()
	in.Prompt = "> "
	in.PromptStyle = a.st.prompt
	in.PlaceStyle = a.st.pending
	in.CursorStyle = a.st.cursor
	in.Placeholder = "type a message, /help for commands"
	in.CharLimit = inputCap(d.cfg.MaxMessageLen)
	a.input = in
	return a
}

// inputCap bounds the input line: well above a message (a paste that is
// too long stays whole in the input, to be cut by the user, not by us),
// yet bounded per session.
func inputCap(maxMessage int) int { return max(4*maxMessage, 16384) }

func (a *App) setClient(c *Client) { a.client = c }

// dirty drops the rendered side panes after a change they show.
func (a *App) dirty() { a.roomsPane, a.membersPane = nil, nil }

// trim drops the buffers frames are built in (frame, messagePane,
// renderTail), the rendered side panes and every line's rendered rows:
// an idle session kept 6 KiB of buffers and a few KiB of rendered text at
// 80×24 for nothing. The screen then remembers what it shows by hash only
// (screen.idle); the next frame renders what it needs again.
func (a *App) trim() {
	a.rowsBuf, a.cellsBuf, a.paneBuf, a.tailBuf = nil, nil, nil, nil
	a.dirty()
	for _, buf := range a.bufs {
		for i := range buf.lines {
			buf.lines[i].cache = nil
		}
	}
}

// ExitMessage is printed after the program ends (kick, ban), if any.
func (a *App) ExitMessage() string { return a.exitMsg }

// Init loads the user's rooms and the current room's history.
func (a *App) Init() tea.Cmd {
	rooms := a.d.b.RoomsOf(a.d.id.Name)
	var cmds []tea.Cmd
	if !slices.Contains(rooms, "general") {
		rooms = append([]string{"general"}, rooms...)
		cmds = append(cmds, a.joinCmd("general", false, ""))
	}
	for _, r := range rooms {
		a.addConv(r)
	}
	a.restoreConversations()
	a.loadSettings()
	a.status = a.d.b.Status()
	a.switchTo("general")
	if a.zoneMsg != "" {
		a.notice(a.zoneMsg)
	}
	return tea.Batch(cmds...)
}

// addConv adds a conversation to the list (idempotent).
func (a *App) addConv(c string) {
	if !slices.Contains(a.convs, c) {
		a.convs = append(a.convs, c)
	}
	a.dirty()
	a.syncInterest()
}

func (a *App) removeConv(c string) {
	a.convs = slices.DeleteFunc(a.convs, func(x string) bool { return x == c })
	delete(a.bufs, c)
	delete(a.unread, c)
	a.clearMentions(c)
	a.dirty()
	a.syncInterest()
	if a.cur == c {
		a.switchTo("general")
	}
}

// syncInterest tells the hub which rooms this session follows.
func (a *App) syncInterest() {
	if a.client == nil {
		return
	}
	rooms := make([]string, 0, len(a.convs))
	for _, c := range a.convs {
		if !isDMConv(c) {
			rooms = append(rooms, c)
		}
	}
	a.client.SetRooms(rooms)
}

func isDMConv(c string) bool { return strings.HasPrefix(c, "@") }

// historyKey is the Backend history key of a conversation.
func (a *App) historyKey(c string) string {
	if isDMConv(c) {
		return api.DMRoom(a.d.id.Name, c[1:])
	}
	return c
}

// switchTo makes c current, loading its history on first view.
func (a *App) switchTo(c string) {
	if !slices.Contains(a.convs, c) {
		a.addConv(c)
	}
	if a.cur != "" && a.cur != c {
		a.markRead(a.cur)
	}
	if a.editing != nil && a.editing.conv != c {
		a.cancelEdit("edit cancelled: you left its conversation")
	}
	a.cur = c
	a.unread[c] = 0
	a.clearMentions(c)
	a.load(c)
	a.refreshMembers()
}

// load fills c's buffer from History the first time it is shown. This
// first page is small (HistoryOnJoin) and read in place; older pages load
// off the event loop (loadOlder). If it cannot be read the conversation
// opens empty with a notice: live messages still show, and PgUp reads the
// page again (buf.full stays false).
func (a *App) load(c string) {
	if a.bufs[c] != nil {
		return
	}
	buf := &convBuf{}
	if a.client != nil && !isDMConv(c) {
		buf.churnSeen = a.client.hub.churnTotal(c) // summaries count from here
	}
	a.bufs[c] = buf
	if !isDMConv(c) {
		for _, r := range a.d.b.Rooms() {
			if r.Name == c {
				buf.topic = Clean(r.Topic, 300)
			}
		}
	}
	msgs, err := a.d.b.History(a.historyKey(c), 0, a.d.cfg.HistoryOnJoin)
	if err != nil {
		a.systemLine(buf, historyUnavailable(err)+" (PgUp to retry)")
		return
	}
	buf.full = len(msgs) < a.d.cfg.HistoryOnJoin
	mark, said := a.readMark[c], false
	for _, m := range msgs {
		if mark > 0 && m.Index > mark && !said {
			a.systemLine(buf, newSinceMark)
			said = true
		}
		a.appendMsg(buf, m)
	}
}

// historyUnavailable is the one line shown when History fails: the node
// could not read its own log (nothing is lost).
func historyUnavailable(err error) string {
	return "history unavailable: " + Clean(err.Error(), 200)
}

func (a *App) refreshMembers() {
	a.dirty()
	if isDMConv(a.cur) {
		a.members = []api.Presence{{User: a.d.id.Name, Status: "online", Node: a.d.cfg.NodeID}, {User: a.cur[1:]}}
		if a.cur[1:] == a.d.id.Name { // notes to self (from before /msg refused it)
			a.members = a.members[:1]
		}
		for _, p := range everyone(a.d.b) {
			switch p.User {
			case a.d.id.Name:
				a.members[0] = p
			case a.cur[1:]:
				a.members[1] = p
			}
		}
		return
	}
	if a.client != nil {
		a.members = a.client.hub.Members(a.cur) // shared: never modified
		return
	}
	a.members = a.d.b.Members(a.cur)
}

// appendMsg adds m to buf unless already there; it reports whether it did.
func (a *App) appendMsg(buf *convBuf, m api.Message) bool {
	if m.Index <= buf.last {
		return false
	}
	buf.last = m.Index
	if buf.first == 0 {
		buf.first = m.Index
	}
	if m.Lamport > a.lamport {
		a.lamport = m.Lamport
	}
	buf.lines = append(buf.lines, a.lineOf(m))
	if l := &buf.lines[len(buf.lines)-1]; l.x != nil {
		a.noteMessage(buf, l) // a reply: its quote, its parent's count
	}
	a.fresh++
	if buf.scroll > 0 {
		buf.scroll++ // keep the view still while reading back
	}
	buf.trim()
	return true
}

// Per-conversation memory bound: beyond maxLines the oldest are dropped
// (PgUp loads them again from History).
const (
	maxLines  = 1000
	trimLines = 250
)

func (b *convBuf) trim() {
	if len(b.lines) <= maxLines || b.scroll > 0 {
		return
	}
	b.lines = append([]chatLine(nil), b.lines[trimLines:]...)
	b.full = false
	b.trims++
	for _, l := range b.lines {
		if l.idx > 0 {
			b.first = l.idx
			break
		}
	}
}

func (a *App) lineOf(m api.Message) chatLine {
	text := CleanText(m.Text, a.d.cfg.MaxMessageLen)
	from := Clean(m.From, MaxNameLen)
	return chatLine{idx: m.Index, t: m.Time, from: from, text: text, action: m.Action,
		mention: from != a.d.id.Name && (mentions(text, a.d.id.Name) || a.highlighted(text)), x: a.extraOf(m)}
}

// mentions reports whether text names user as a word ("alice", "@alice").
// user is lower case (names are); text is folded as it is searched, without
// allocating when it is ASCII (this runs for every message in every session).
func mentions(text, user string) bool {
	if user == "" {
		return false
	}
	for i := 0; i < len(text); i++ {
		if text[i] >= 0x80 {
			return mentionsFolded(strings.ToLower(text), user)
		}
	}
	n := len(user)
	for j := 0; j+n <= len(text); j++ {
		if lowerASCII(text[j]) != user[0] || !asciiFoldEq(text[j:j+n], user) {
			continue
		}
		end := j + n
		if (j == 0 || !nameByte(lowerASCII(text[j-1]))) && (end == len(text) || !nameByte(lowerASCII(text[end]))) {
			return true
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func asciiFoldEq(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		if lowerASCII(s[i]) != lower[i] {
			return false
		}
	}
	return true
}

func mentionsFolded(lt, user string) bool {
	for i := 0; ; {
		j := strings.Index(lt[i:], user)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(user)
		if (j == 0 || !nameByte(lt[j-1])) && (end == len(lt) || !nameByte(lt[end])) {
			return true
		}
		i = j + 1
	}
}

func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// notice adds a system line to the current conversation.
func (a *App) notice(text string) {
	buf := a.bufs[a.cur]
	if buf == nil {
		a.load(a.cur)
		buf = a.bufs[a.cur]
	}
	for _, l := range strings.Split(text, "\n") {
		a.systemLine(buf, l)
	}
	buf.scroll = 0
	buf.trim()
}

// systemLine adds one system line to buf.
func (a *App) systemLine(buf *convBuf, text string) {
	buf.lines = append(buf.lines, chatLine{system: true, text: Clean(text, 0)})
	a.fresh++
}

// Update is the program's event handler.
func (a *App) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	m, cmd := a.update(msg)
	if len(a.needQuotes) > 0 { // replies whose quoted message is not loaded (app_messages.go)
		cmd = tea.Batch(cmd, a.quoteCmds())
	}
	return m, cmd
}

func (a *App) update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		// Clamp: the SSH protocol allows any uint32, and View allocates w×h.
		a.w, a.h = min(max(msg.Width, 0), maxCols), min(max(msg.Height, 0), maxRows)
		a.dirty()
		a.input.Width = max(a.w-len(a.input.Prompt)-1, 1)
		return a, nil
	case tea.KeyMsg:
		return a, a.onKey(msg)
	case EventMsg:
		return a, a.onEvent(msg.Event)
	case MembersMsg:
		a.onMembers(msg)
		return a, nil
	case ResyncMsg:
		return a, a.resync()
	case resyncRetry:
		return a, a.retryResync()
	case olderPage:
		a.onOlderPage(msg)
		return a, nil
	case quoteMsg:
		a.onQuote(msg)
		return a, nil
	case StatusMsg:
		a.status = msg.Status
		if a.status.Quorum {
			return a, a.sendNext()
		}
		return a, nil
	case NoticeMsg:
		a.notice("*** " + msg.Text)
		return a, nil
	case KickedMsg:
		a.exitMsg = kickText(msg.Mod)
		return a, tea.Quit
	case postResult:
		return a, a.onPostResult(msg)
	case opResult:
		return a, a.onOpResult(msg)
	case retryTick:
		a.retrying = false
		return a, a.sendNext()
	case rateTick:
		a.rateTicking = false
		return a, a.sendNext()
	}
	return a, nil
}

func itoa(n int) string { return strconv.Itoa(n) }
