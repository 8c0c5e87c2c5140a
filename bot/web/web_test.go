package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/web"
	"github.com/mamori-oss/mamori/flows"
	"github.com/mamori-oss/mamori/store/mem"
)

// testWriter writes a test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// exampleOrg is the example configuration's organisation, named as
// `mamori chat` names people: not Slack's ids.
func exampleOrg() mamori.Org {
	return mamori.Org{Name: "サンプル株式会社", Lang: mamori.JA, HRChannel: "#hr-desk", HR: []string{"hr"},
		Departments: []mamori.Department{
			{ID: "store", Name: mamori.Text{JA: "店舗運営部", EN: "Store operations"}, SupervisorChannel: "#store-supervisors",
				Supervisors: []string{"sato"}, Members: []string{"me", "tanaka"}},
			{ID: "support", Name: mamori.Text{JA: "カスタマーサポート部", EN: "Customer support"}, SupervisorChannel: "#support-supervisors",
				Supervisors: []string{"suzuki"}, Members: []string{"yamada", "alex@example.com"}},
		}}
}

func TestDirectory(t *testing.T) {
	dir := web.NewDirectory(exampleOrg())
	org := dir.Org()
	if org.HRChannel != "CHRDESK" || org.HR[0] != "UHR" {
		t.Errorf("HR: channel %q, members %v", org.HRChannel, org.HR)
	}
	store := org.Departments[0]
	if store.SupervisorChannel != "CSTORESUPERVISORS" || store.Supervisors[0] != "USATO" || store.Members[0] != "UME" || store.Members[1] != "UTANAKA" {
		t.Errorf("the store department: %+v", store)
	}
	// A person named by email stays an email in the directory (users.info
	// gives it), with an id of their own.
	if m := org.Departments[1].Members; m[1] != "alex@example.com" {
		t.Errorf("support members: %v", m)
	}
	if p, ok := dir.Person("UALEX"); !ok || p.Email != "alex@example.com" || p.Handle != "alex" {
		t.Errorf("alex: %+v %v", p, ok)
	}
	emp, sup, hr, col := dir.Cast()
	if emp != "UME" || sup != "USATO" || hr != "UHR" || col != "UTANAKA" {
		t.Errorf("cast: %s %s %s %s", emp, sup, hr, col)
	}
	// A configuration written for Slack keeps its ids.
	slackOrg := mamori.Org{HRChannel: "C0HR", HR: []string{"U0HR"}, Departments: []mamori.Department{
		{ID: "d", SupervisorChannel: "C0SUP", Supervisors: []string{"U0SUP"}, Members: []string{"U0A"}}}}
	if got := web.NewDirectory(slackOrg).Org(); got.HRChannel != "C0HR" || got.Departments[0].Members[0] != "U0A" {
		t.Errorf("Slack ids changed: %+v", got)
	}
	if id := dir.UserID("guard"); id != "UGUARD" {
		t.Errorf("an on-call person not in the directory: %s", id)
	}
}

// rig is the sandbox over the real flows and an in-memory store, with its
// page served on loopback and the outbox worker running.
type rig struct {
	t      *testing.T
	srv    *httptest.Server
	sb     *web.Sandbox
	policy *mamori.Policy
	dir    *web.Directory
	ahead  *atomic.Int64
	db     *mem.DB
	svc    *flows.Service
	worker *flows.Worker
	cfg    web.Config
	stop   func()
}

func newRig(t *testing.T) *rig {
	t.Helper()
	policy, err := mamori.Preset("mhlw-2022")
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, policy: policy, dir: web.NewDirectory(exampleOrg()), ahead: &atomic.Int64{}, db: mem.New()}
	t.Cleanup(func() { r.db.Close() })
	org := r.dir.Org()
	clock := func() time.Time { return time.Now().Add(time.Duration(r.ahead.Load())) }
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	r.svc = flows.NewService(r.db, policy, &org, clock, log)
	r.worker = flows.NewWorker(r.db, clock, log)
	r.worker.Jobs = r.svc
	r.svc.Kick = r.worker.Kick
	r.cfg = web.Config{Flows: r.svc, Policy: policy, Directory: r.dir, Lang: mamori.JA, Location: r.svc.Location,
		Clock: clock, Advance: func(d time.Duration) time.Time { r.ahead.Add(int64(d)); return clock() },
		Drain: func(ctx context.Context) { settle(ctx, r.worker, r.db) }}
	r.start()
	t.Cleanup(func() { r.stop() }) // the latest, after a restart
	return r
}

// start starts the sandbox, its page's server and the worker.
func (r *rig) start() {
	r.t.Helper()
	sb, err := web.New(r.cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	r.sb = sb
	r.worker.Senders[mamori.PlatformSlack] = sb.Sender()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.worker.Run(ctx) }()
	r.srv = httptest.NewServer(sb)
	r.stop = func() {
		r.srv.Close()
		cancel()
		<-done
		sb.Close()
	}
}

// restart stops the sandbox and starts a new one over the same store, as
// a restart of mamori serve does, showing again what the outbox sent.
func (r *rig) restart() {
	r.t.Helper()
	r.stop()
	r.start()
	items, err := r.db.ListOutbox(context.Background(), mamori.OutboxSent, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	r.sb.Restore(items, func(ref string) (mamori.Posted, bool) {
		p, err := r.db.PostedRef(context.Background(), ref)
		return p, err == nil
	})
}

// settle delivers what is due until nothing waits in the outbox, for 5 s
// at most.
func settle(ctx context.Context, w *flows.Worker, db *mem.DB) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		w.Drain(ctx)
		if n, err := db.CountOutbox(ctx, ""); err == nil && n[mamori.OutboxPending] == 0 {
			return
		}
	}
}

func (r *rig) get(path string) (int, string, string) {
	r.t.Helper()
	resp, err := http.Get(r.srv.URL + path)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func (r *rig) state(as string) web.State {
	r.t.Helper()
	_, _, body := r.get("/sandbox/state?as=" + as)
	var st web.State
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		r.t.Fatalf("state: %v\n%s", err, body)
	}
	return st
}

func (r *rig) act(a web.Act) web.ActResult {
	r.t.Helper()
	b, _ := json.Marshal(a)
	resp, err := http.Post(r.srv.URL+web.PathAct, "application/json", bytes.NewReader(b))
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var res web.ActResult
	json.NewDecoder(resp.Body).Decode(&res)
	return res
}

// message is a message of the feed, with its blocks decoded.
type message struct {
	TS, User, Text string
	Ephemeral      bool
	Blocks         []map[string]any
}

func (r *rig) messages(as, channel string) []message {
	r.t.Helper()
	var out []message
	for _, m := range r.state(as).Conversations[channel] {
		var bs []map[string]any
		json.Unmarshal(m.Blocks, &bs)
		out = append(out, message{TS: m.TS, User: m.User, Text: m.Text, Ephemeral: m.Ephemeral, Blocks: bs})
	}
	return out
}

// all is the message's text and every text in its blocks.
func (m message) all() string {
	b, _ := json.Marshal(m.Blocks)
	return m.Text + "\n" + string(b)
}

// waitFor waits for a message in channel, as as sees it, that match
// accepts, from the from-th on.
func (r *rig) waitFor(as, channel, what string, match func(message) bool) message {
	r.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		msgs := r.messages(as, channel)
		for i := len(msgs) - 1; i >= 0; i-- {
			if match(msgs[i]) {
				return msgs[i]
			}
		}
		if time.Now().After(deadline) {
			var texts []string
			for _, m := range msgs {
				texts = append(texts, m.Text)
			}
			r.t.Fatalf("no %s in %s for %s after 15 s:\n%s", what, channel, as, strings.Join(texts, "\n---\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// question returns the step a message asks (its actions' block ids are
// "<kind>/<n>/<step>"), or "".
func (m message) question() string {
	for _, b := range m.Blocks {
		id, _ := b["block_id"].(string)
		if parts := strings.Split(id, "/"); b["type"] == "actions" && len(parts) == 3 && parts[2] != "card" {
			return parts[2]
		}
	}
	return ""
}

// button finds the button with value (or whose value starts with
// value+":"), and its block.
func (m message) button(value string) (block, action, val string, ok bool) {
	for _, b := range m.Blocks {
		els, _ := b["elements"].([]any)
		for _, e := range els {
			em, _ := e.(map[string]any)
			v, _ := em["value"].(string)
			if em["type"] == "button" && (v == value || strings.HasPrefix(v, value+":")) {
				return b["block_id"].(string), em["action_id"].(string), v, true
			}
		}
	}
	return "", "", "", false
}

// values lists the values of the message's choice buttons, in order.
func (m message) values() []string {
	var vs []string
	for _, b := range m.Blocks {
		if id, _ := b["block_id"].(string); !strings.HasPrefix(id, "choice/") {
			continue
		}
		els, _ := b["elements"].([]any)
		for _, e := range els {
			if em, _ := e.(map[string]any); em["type"] == "button" {
				vs = append(vs, fmt.Sprint(em["value"]))
			}
		}
	}
	return vs
}

// element returns the first element of type typ in a block whose id
// starts with prefix, and that block's id.
func (m message) element(prefix, typ string) (string, map[string]any) {
	for _, b := range m.Blocks {
		id, _ := b["block_id"].(string)
		if !strings.HasPrefix(id, prefix) {
			continue
		}
		els, _ := b["elements"].([]any)
		for _, e := range els {
			if em, _ := e.(map[string]any); em["type"] == typ {
				return id, em
			}
		}
	}
	return "", nil
}

func (r *rig) click(as, channel string, m message, value string) web.ActResult {
	r.t.Helper()
	block, action, v, ok := m.button(value)
	if !ok {
		r.t.Fatalf("no button %q in %s", value, m.all())
	}
	res := r.act(web.Act{As: as, Kind: "action", Channel: channel, TS: m.TS, Block: block, Action: action, Value: v})
	if !res.OK {
		r.t.Fatalf("click %s: %+v", value, res)
	}
	return res
}

// shown waits until no message to user is pending in the outbox: typed
// text answers only a question the person has been shown.
func (r *rig) shown(user string) {
	r.t.Helper()
	target := mamori.Target{Platform: mamori.PlatformSlack, Kind: mamori.TargetUser, ID: user}
	for deadline := time.Now().Add(10 * time.Second); ; {
		var pending bool
		err := r.db.View(context.Background(), func(tx mamori.Tx) error {
			var err error
			pending, err = tx.OutboxPending(target, time.Time{})
			return err
		})
		if err == nil && !pending {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("messages to %s still pending after 10 s (%v)", user, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var caseNumber = regexp.MustCompile(`KH-\d{4}-\d{4}`)

// fileReport answers the intake in emp's DM as it comes and returns the
// case number.
func (r *rig) fileReport(emp string) string {
	r.t.Helper()
	dm := "D" + strings.TrimPrefix(emp, "U")
	if res := r.act(web.Act{As: emp, Kind: "message", Channel: dm, Text: "/kasuhara"}); !res.OK {
		r.t.Fatalf("/kasuhara: %+v", res)
	}
	seen := ""
	for range 40 {
		q := r.waitFor(emp, dm, "a question", func(m message) bool { return m.question() != "" && m.TS > seen })
		seen = q.TS
		switch step := q.question(); step {
		case "menu":
			r.click(emp, dm, q, mamori.StartReport)
		case "safety":
			r.click(emp, dm, q, "safe")
		case "for_whom":
			r.click(emp, dm, q, "self")
		case "behaviours":
			// Tick a behaviour (Slack sends each tick), then submit: the
			// state carries what is ticked.
			block, boxes := q.element("multi/", "checkboxes")
			opts, _ := boxes["options"].([]any)
			if len(opts) < 2 {
				r.t.Fatalf("behaviours: %s", q.all())
			}
			ticked := []string{opts[1].(map[string]any)["value"].(string)}
			r.act(web.Act{As: emp, Kind: "action", Channel: dm, TS: q.TS, Block: block, Action: fmt.Sprint(boxes["action_id"]), Selected: ticked})
			sb, submit := q.element("submit/", "button")
			res := r.act(web.Act{As: emp, Kind: "action", Channel: dm, TS: q.TS, Block: sb, Action: fmt.Sprint(submit["action_id"]),
				Value: fmt.Sprint(submit["value"]), State: map[string][]string{block: ticked}})
			if !res.OK {
				r.t.Fatalf("behaviours: %+v", res)
			}
		case "wellbeing":
			r.click(emp, dm, q, "hard")
		case "talk":
			r.click(emp, dm, q, "yes")
		case "route":
			r.click(emp, dm, q, mamori.RouteDepartment)
		case "summary":
			r.click(emp, dm, q, "submit")
			receipt := r.waitFor(emp, dm, "a case number", func(m message) bool { return caseNumber.MatchString(m.all()) })
			return caseNumber.FindString(receipt.all())
		default:
			vs := q.values()
			if len(vs) == 0 || vs[0] == "nav:skip" || vs[0] == "nav:keep" {
				r.shown(emp)
				if res := r.act(web.Act{As: emp, Kind: "message", Channel: dm, Text: "回答：" + step}); !res.OK {
					r.t.Fatalf("typing: %+v", res)
				}
			} else {
				r.click(emp, dm, q, vs[0])
			}
		}
	}
	r.t.Fatal("no summary after 40 questions")
	return ""
}

// TestSandboxPage: the page, its script and style are served; what is
// not the page's is not found.
func TestSandboxPage(t *testing.T) {
	r := newRig(t)
	for _, c := range []struct{ path, ctype, want string }{
		{"/", "text/html", `<script src="/static/app.js"`},
		{"/static/app.js", "javascript", "function mrkdwn"},
		{"/static/app.css", "text/css", "@media"},
	} {
		code, ct, body := r.get(c.path)
		if code != http.StatusOK || !strings.Contains(ct, c.ctype) || !strings.Contains(body, c.want) {
			t.Errorf("GET %s: %d %s, want %q in:\n%.200s", c.path, code, ct, c.want, body)
		}
	}
	for _, p := range []string{"/static/", "/static/../web.go", "/nothing", "/files/F1"} {
		if code, _, _ := r.get(p); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, code)
		}
	}
	// A form posted from another site is refused.
	resp, err := http.Post(r.srv.URL+web.PathAct, "application/x-www-form-urlencoded", strings.NewReader("as=UME"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-site form: %d, want 403", resp.StatusCode)
	}
	st := r.state("")
	if st.Me != "UME" || st.Cast["supervisor"] != "USATO" || len(st.Channels) != 3 || !st.Clock {
		t.Errorf("the first state: me %s, cast %v, %d channels, clock %v", st.Me, st.Cast, len(st.Channels), st.Clock)
	}
}

// TestSandboxReport: a report filed in the employee's DM through the
// page's acts reaches the supervisors' channel as a card; the colleague
// is refused its details, in a note only they see; the supervisor takes
// and judges it in the modal; HR acknowledges the care task; the demo
// clock brings the check-in.
func TestSandboxReport(t *testing.T) {
	r := newRig(t)
	ja := func(key string, a ...any) string { return fmt.Sprintf(r.policy.T(mamori.JA, key), a...) }
	emp, sup, hr, col := r.dir.Cast()
	number := r.fileReport(emp)

	const supCh, hrCh = "CSTORESUPERVISORS", "CHRDESK"
	card := r.waitFor(sup, supCh, "the case card", func(m message) bool { return strings.Contains(m.all(), number) })
	if strings.Contains(card.all(), "回答：narrative") {
		t.Errorf("the card shows the narrative:\n%s", card.all())
	}

	// The colleague may not see the details: a note to them alone.
	r.click(col, supCh, card, mamori.CardDetails)
	refusal := r.waitFor(col, supCh, "the refusal", func(m message) bool { return m.Ephemeral })
	if !strings.Contains(refusal.all(), ja("details.refused")) {
		t.Errorf("the refusal:\n%s", refusal.all())
	}
	for _, m := range r.messages(sup, supCh) {
		if m.Ephemeral {
			t.Errorf("the supervisor sees another's note: %s", m.all())
		}
	}

	// The supervisor takes the case, then judges it in the modal.
	r.click(sup, supCh, card, mamori.CardTake)
	r.waitFor(sup, supCh, "the take's note", func(m message) bool { return m.Ephemeral && strings.Contains(m.all(), ja("judge.done.take", number)) })
	card = r.waitFor(sup, supCh, "the card taken", func(m message) bool { return m.TS == card.TS && strings.Contains(m.all(), ja("status.taken")) })
	r.click(sup, supCh, card, mamori.CardJudge)
	var modal *web.State
	for deadline := time.Now().Add(10 * time.Second); ; {
		st := r.state(sup)
		if st.Modal != nil {
			modal = &st
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no judge modal")
		}
		time.Sleep(20 * time.Millisecond)
	}
	view := modal.Modal.ID
	// Required inputs empty: refused before the app sees it, as Slack does.
	if res := r.act(web.Act{As: sup, Kind: "submit", View: view, Values: map[string][]string{}}); res.OK || res.Errors["validity"] != "required" {
		t.Errorf("an empty judgement: %+v", res)
	}
	res := r.act(web.Act{As: sup, Kind: "submit", View: view, Values: map[string][]string{
		"facts": {"防犯カメラの映像で確認"}, "validity": {"invalid"}, "means": {"unacceptable"},
		"outcome": {mamori.OutcomeKasuhara}, "actions": {"warn"}}})
	if !res.OK {
		t.Fatalf("the judgement: %+v", res)
	}
	if st := r.state(sup); st.Modal != nil {
		t.Errorf("the modal is still open: %v", st.Modal.View["title"])
	}
	r.waitFor(sup, supCh, "the judged card", func(m message) bool { return m.TS == card.TS && strings.Contains(m.all(), ja("status.judged")) })
	r.waitFor(emp, "D"+strings.TrimPrefix(emp, "U"), "the outcome", func(m message) bool { return strings.Contains(m.all(), ja("outcome.header", number)) })

	// HR acknowledges the care task the reporter's wish to talk opened.
	task := r.waitFor(hr, hrCh, "the care task", func(m message) bool { return strings.Contains(m.all(), ja("caretask.header", number)) })
	r.click(hr, hrCh, task, mamori.CareAck)
	r.waitFor(hr, hrCh, "the acknowledged task", func(m message) bool {
		return m.TS == task.TS && strings.Contains(m.all(), ja("caretask.status.acknowledged"))
	})

	// The demo clock: a day or more on, the first check-in comes.
	dm := "D" + strings.TrimPrefix(emp, "U")
	for i := 0; i < 4 && !strings.Contains(fmt.Sprint(r.messages(emp, dm)), "checkin"); i++ {
		if res := r.act(web.Act{Kind: "clock", By: "1d"}); !res.OK {
			t.Fatalf("clock: %+v", res)
		}
	}
	r.waitFor(emp, dm, "a check-in", func(m message) bool { return strings.Contains(m.all(), "checkin") })
	if st := r.state(emp); st.Ahead < 24*60 {
		t.Errorf("the clock is %d minutes ahead", st.Ahead)
	}
}

// TestSandboxSOS: the SOS shortcut raises an alert in the supervisors'
// and HR's channels; nobody answers, so three demo minutes on it goes to
// the supervisor by DM; they press "I'm on it" and the employee hears who
// is coming.
func TestSandboxSOS(t *testing.T) {
	r := newRig(t)
	emp, sup, _, _ := r.dir.Cast()
	if res := r.act(web.Act{As: emp, Kind: "shortcut", Callback: "sos"}); !res.OK {
		t.Fatalf("the SOS shortcut: %+v", res)
	}
	alert := r.waitFor(sup, "CSTORESUPERVISORS", "the SOS alert", func(m message) bool { return strings.Contains(m.all(), mamori.SOSAck+":") })
	r.waitFor(sup, "CHRDESK", "the SOS alert to HR", func(m message) bool { return strings.Contains(m.all(), mamori.SOSAck+":") })
	if res := r.act(web.Act{Kind: "clock", By: "3m"}); !res.OK {
		t.Fatalf("clock: %+v", res)
	}
	dm := "D" + strings.TrimPrefix(sup, "U")
	r.waitFor(sup, dm, "the escalation to the supervisor", func(m message) bool { return strings.Contains(m.all(), mamori.SOSAck+":") })
	r.click(sup, "CSTORESUPERVISORS", alert, mamori.SOSAck)
	r.waitFor(emp, "D"+strings.TrimPrefix(emp, "U"), "who is coming", func(m message) bool {
		return strings.Contains(m.all(), "<@"+sup+">") || strings.Contains(m.all(), `\u003c@`+sup)
	})
}

// TestSandboxFilesAndLanguage: a file sent in the DM is shared there and
// reaches the app as Slack's file_share event; switching to English
// answers users.info with an English locale, and the app follows.
func TestSandboxFilesAndLanguage(t *testing.T) {
	r := newRig(t)
	emp, _, _, _ := r.dir.Cast()
	dm := "D" + strings.TrimPrefix(emp, "U")
	if res := r.act(web.Act{Kind: "lang", Lang: "en"}); !res.OK {
		t.Fatalf("lang: %+v", res)
	}
	if st := r.state(emp); st.Lang != "en" {
		t.Errorf("the page's language is %s", st.Lang)
	}
	r.act(web.Act{As: emp, Kind: "message", Channel: dm, Text: "/kasuhara"})
	menu := r.waitFor(emp, dm, "the menu", func(m message) bool { return m.question() == "menu" })
	if !strings.Contains(menu.all(), r.policy.T(mamori.EN, "menu.report")) {
		t.Errorf("the menu is not in English:\n%s", menu.all())
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "photo.png")
	fw.Write([]byte("\x89PNG\r\n\x1a\nnot really"))
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, r.srv.URL+web.PathUpload+"?as="+emp, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var res web.ActResult
	json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if !res.OK {
		t.Fatalf("upload: %+v", res)
	}
	st := r.state(emp)
	var file, fileTS string
	for _, m := range st.Conversations[dm] {
		for _, f := range m.Files {
			if f.Name == "photo.png" && f.Image && m.User == emp {
				file, fileTS = f.URL, m.TS
			}
		}
	}
	if file == "" {
		t.Fatalf("the file is not in the DM")
	}
	if code, ct, _ := r.get(file); code != http.StatusOK || ct != "image/png" {
		t.Errorf("GET %s: %d %s", file, code, ct)
	}
	// The app answers the file in the DM (outside a report: where files go).
	r.waitFor(emp, dm, "the app's answer to the file", func(m message) bool { return m.User == web.BotUserID && m.TS > fileTS })
}

// TestSandboxRestart: after a restart the page shows again what the app
// posted, the case card at the ts it was posted with, so the supervisor
// takes the case on it and the card is updated in place, not posted twice.
func TestSandboxRestart(t *testing.T) {
	r := newRig(t)
	ja := func(key string, a ...any) string { return fmt.Sprintf(r.policy.T(mamori.JA, key), a...) }
	emp, sup, _, _ := r.dir.Cast()
	number := r.fileReport(emp)
	const supCh = "CSTORESUPERVISORS"
	card := r.waitFor(sup, supCh, "the case card", func(m message) bool { return strings.Contains(m.all(), mamori.CardTake+":"+number) })
	r.shown(emp)
	settle(context.Background(), r.worker, r.db)

	r.restart()
	again := r.waitFor(sup, supCh, "the case card again", func(m message) bool { return strings.Contains(m.all(), mamori.CardTake+":"+number) })
	if again.TS != card.TS {
		t.Errorf("the card came back at %s, was %s", again.TS, card.TS)
	}
	dm := r.messages(emp, "D"+strings.TrimPrefix(emp, "U"))
	if len(dm) == 0 || !strings.Contains(fmt.Sprint(dm), number) {
		t.Errorf("the employee's DM lost the receipt: %d messages", len(dm))
	}
	r.click(sup, supCh, again, mamori.CardTake)
	r.waitFor(sup, supCh, "the card taken", func(m message) bool { return m.TS == card.TS && strings.Contains(m.all(), ja("status.taken")) })
	n := 0
	for _, m := range r.messages(sup, supCh) {
		if !m.Ephemeral && strings.Contains(m.all(), "choice/0/card") && strings.Contains(m.all(), number) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d cards of %s in the channel, want 1", n, number)
	}
}

// TestSandboxImage: a message with an image (the monthly chart) goes
// through Slack's upload flow — files.getUploadURLExternal, the bytes to
// the upload URL, files.completeUploadExternal — and shows in the channel
// with the image, which the page serves.
func TestSandboxImage(t *testing.T) {
	r := newRig(t)
	_, _, hr, _ := r.dir.Cast()
	png := []byte("\x89PNG\r\n\x1a\n" + strings.Repeat("x", 100))
	item := mamori.OutboxItem{Key: "test:chart", Created: time.Now(), Lang: mamori.JA,
		Target:  mamori.Target{Platform: mamori.PlatformSlack, Kind: mamori.TargetChannel, ID: "CHRDESK"},
		Message: mamori.Message{Header: "月次の統計", Text: "グラフ", Image: &mamori.Image{Name: "kasuhara-2026-11.png", Alt: "件数の推移", PNG: png}}}
	if err := r.db.Update(context.Background(), func(tx mamori.Tx) error { return tx.Enqueue(item) }); err != nil {
		t.Fatal(err)
	}
	r.worker.Kick()
	var url string
	for deadline := time.Now().Add(10 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, m := range r.state(hr).Conversations["CHRDESK"] {
			for _, f := range m.Files {
				if f.Name == "kasuhara-2026-11.png" && f.Image && f.Alt == "件数の推移" {
					url = f.URL
				}
			}
		}
	}
	if url == "" {
		t.Fatal("the chart did not reach the HR channel")
	}
	if code, ct, body := r.get(url); code != http.StatusOK || ct != "image/png" || body != string(png) {
		t.Errorf("GET %s: %d %s, %d bytes", url, code, ct, len(body))
	}
}
