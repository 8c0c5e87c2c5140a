package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/web"
)

// These tests run `mamori serve` with no platform — the web sandbox —
// and use it as a person would: through its page's feed and acts, and in
// a real browser (Debian's Chromium, headless, driven with chromedp; the
// browser tests skip when there is none). Everything goes over loopback.

// sandboxRig is `mamori serve` running the sandbox.
type sandboxRig struct {
	t      *testing.T
	env    testEnv
	base   string
	logs   *syncBuffer
	stdout *syncBuffer
	client *http.Client
}

func startSandbox(t *testing.T) *sandboxRig {
	t.Helper()
	e := newEnv(t)
	e["MAMORI_ADDR"] = "127.0.0.1:0"
	r := &sandboxRig{t: t, env: e, logs: &syncBuffer{}, stdout: &syncBuffer{}, client: &http.Client{Timeout: 40 * time.Second}}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	var runErr error
	go func() {
		defer close(stopped)
		runErr = run(ctx, []string{"serve"}, strings.NewReader(""), r.stdout, r.logs, e.get)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
			if runErr != nil {
				t.Errorf("serve returned %v", runErr)
			}
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop within 20 s")
		}
		if t.Failed() {
			t.Logf("serve logs:\n%s", r.logs.String())
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case <-stopped:
			t.Fatalf("serve stopped at once: %v\n%s", runErr, r.logs.String())
		default:
		}
		if addr := listening(r.logs.String()); addr != "" && r.base == "" {
			r.base = "http://" + addr
		}
		if r.base != "" {
			if resp, err := r.client.Get(r.base + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return r
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sandbox after 20 s\n%s", r.logs.String())
		}
	}
}

func (r *sandboxRig) get(path string) (int, string) {
	r.t.Helper()
	resp, err := r.client.Get(r.base + path)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// state is the feed: the workspace as person as sees it.
func (r *sandboxRig) state(as string) web.State {
	r.t.Helper()
	code, body := r.get(web.PathState + "?as=" + as)
	var st web.State
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != http.StatusOK {
		r.t.Fatalf("state: %d %v\n%s", code, err, body)
	}
	return st
}

// feedMessage is a message of the feed, with its blocks decoded.
type feedMessage struct {
	TS        string
	Ephemeral bool
	Blocks    blocks
	all       string
}

func (r *sandboxRig) messages(as, channel string) []feedMessage {
	r.t.Helper()
	var out []feedMessage
	for _, m := range r.state(as).Conversations[channel] {
		var b blocks
		json.Unmarshal(m.Blocks, &b)
		// Slack's JSON may escape < and >: the texts, as written, are
		// searched.
		var raw strings.Builder
		enc := json.NewEncoder(&raw)
		enc.SetEscapeHTML(false)
		enc.Encode(b)
		out = append(out, feedMessage{TS: m.TS, Ephemeral: m.Ephemeral, Blocks: b, all: m.Text + "\n" + raw.String()})
	}
	return out
}

// waitFor waits for the newest message in channel, as as sees it, that
// match accepts.
func (r *sandboxRig) waitFor(as, channel, what string, match func(feedMessage) bool) feedMessage {
	r.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(25 * time.Millisecond) {
		msgs := r.messages(as, channel)
		for i := len(msgs) - 1; i >= 0; i-- {
			if match(msgs[i]) {
				return msgs[i]
			}
		}
		if time.Now().After(deadline) {
			var texts []string
			for _, m := range msgs {
				texts = append(texts, m.all)
			}
			r.t.Fatalf("no %s in %s for %s after 20 s:\n%s", what, channel, as, strings.Join(texts, "\n---\n"))
		}
	}
}

// shown waits until no message to user waits in the outbox: typed text
// answers only a question the person has been shown.
func (r *sandboxRig) shown(user string) {
	r.t.Helper()
	db, err := sql.Open("sqlite3", "file:"+r.env["MAMORI_DB"]+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		r.t.Fatal(err)
	}
	defer db.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var n int
		err := db.QueryRow(`SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND target LIKE ?`, fmt.Sprintf("%%%q%%", user)).Scan(&n)
		if err == nil && n == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("messages to %s still pending after 10 s (%d, %v)", user, n, err)
		}
	}
}

// listenAddr's default: the sandbox on this machine alone, Slack and
// Teams on every interface (a platform must reach them).
func TestListenAddr(t *testing.T) {
	for _, c := range []struct {
		env     string
		sandbox bool
		want    string
	}{
		{"", true, "127.0.0.1:8080"},
		{"", false, ":8080"},
		{":9000", true, ":9000"},
	} {
		if got := listenAddr(c.env, c.sandbox); got != c.want {
			t.Errorf("listenAddr(%q, %v) = %q, want %q", c.env, c.sandbox, got, c.want)
		}
	}
}

// TestSandboxServe: with no platform configured, serve says where the
// page is, serves it and its feed, and a report made through the feed's
// acts reaches the supervisors' channel as a card.
func TestSandboxServe(t *testing.T) {
	t.Parallel()
	r := startSandbox(t)
	if !strings.Contains(r.stdout.String(), "open "+r.base+"/") {
		t.Errorf("serve printed %q, want the page's address %s/", r.stdout.String(), r.base)
	}
	if code, page := r.get("/"); code != http.StatusOK || !strings.Contains(page, "/static/app.js") {
		t.Fatalf("GET /: %d\n%.300s", code, page)
	}
	if code, _ := r.get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz: %d", code)
	}
	st := r.state("")
	emp, sup := st.Cast["employee"], st.Cast["supervisor"]
	if emp == "" || sup == "" || st.Cast["hr"] == "" || st.Cast["colleague"] == "" {
		t.Fatalf("the cast: %v", st.Cast)
	}
	number := r.report(emp, func(step string, q feedMessage, value string) {
		r.act(web.Act{As: emp, Kind: "action", Channel: st.DM, TS: q.TS, Block: q.Blocks.blockOf(value), Action: q.Blocks.actionOf(value), Value: value})
	}, func(step, text string) {
		r.act(web.Act{As: emp, Kind: "message", Channel: st.DM, Text: text})
	}, func(q feedMessage, value string) {
		block := q.Blocks.blockOf(value)
		r.act(web.Act{As: emp, Kind: "action", Channel: st.DM, TS: q.TS, Block: block, Action: "multi", Selected: []string{value}})
		submit := q.Blocks.submitValue()
		r.act(web.Act{As: emp, Kind: "action", Channel: st.DM, TS: q.TS, Block: q.Blocks.blockOf(submit), Action: q.Blocks.actionOf(submit),
			Value: submit, State: map[string][]string{block: {value}}})
	})
	ch := supervisorChannel(st)
	r.waitFor(sup, ch, "the case card", func(m feedMessage) bool {
		return strings.Contains(m.all, number) && strings.Contains(m.all, mamori.CardTake)
	})
}

func (r *sandboxRig) act(a web.Act) web.ActResult {
	r.t.Helper()
	b, _ := json.Marshal(a)
	resp, err := r.client.Post(r.base+web.PathAct, "application/json", strings.NewReader(string(b)))
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var res web.ActResult
	json.NewDecoder(resp.Body).Decode(&res)
	if !res.OK {
		r.t.Fatalf("act %s: %+v", a.Kind, res)
	}
	return res
}

func supervisorChannel(st web.State) string {
	for _, c := range st.Channels {
		if !c.HR && c.Department == "store" {
			return c.ID
		}
	}
	return ""
}

func hrChannel(st web.State) string {
	for _, c := range st.Channels {
		if c.HR {
			return c.ID
		}
	}
	return ""
}

func (b blocks) blockOf(value string) string {
	ids, elems := b.elements()
	for i, e := range elems {
		if e["value"] == value {
			return ids[i]
		}
		if opts, _ := e["options"].([]any); opts != nil {
			for _, o := range opts {
				if om, _ := o.(map[string]any); om["value"] == value {
					return ids[i]
				}
			}
		}
	}
	return ""
}

func (b blocks) actionOf(value string) string {
	ids, elems := b.elements()
	for i, e := range elems {
		if e["value"] == value && ids[i] != "" {
			return fmt.Sprint(e["action_id"])
		}
	}
	return ""
}

// submitValue is the value of a multi-select's submit button.
func (b blocks) submitValue() string {
	ids, elems := b.elements()
	for i, e := range elems {
		if strings.HasPrefix(ids[i], "submit/") && e["type"] == "button" {
			return fmt.Sprint(e["value"])
		}
	}
	return ""
}

// buttonValue is the value of the button whose value is prefix or
// starts with prefix+":".
func (b blocks) buttonValue(prefix string) string {
	_, elems := b.elements()
	for _, e := range elems {
		if v := fmt.Sprint(e["value"]); e["type"] == "button" && (v == prefix || strings.HasPrefix(v, prefix+":")) {
			return v
		}
	}
	return ""
}

// report answers the intake in emp's DM as each question comes: click
// chooses a button, tick a behaviour (and submits them), typing answers
// in words. It returns the case number.
func (r *sandboxRig) report(emp string, click func(step string, q feedMessage, value string), typing func(step, text string), tick func(q feedMessage, value string)) string {
	r.t.Helper()
	st := r.state(emp)
	typing("start", st.Command)
	seen := ""
	for range 40 {
		q := r.waitFor(emp, st.DM, "a question", func(m feedMessage) bool { return m.TS > seen && !m.Ephemeral && m.Blocks.askedStep() != "" })
		seen = q.TS
		step := q.Blocks.askedStep()
		switch step {
		case "menu":
			click(step, q, mamori.StartReport)
		case "safety":
			click(step, q, "safe")
		case "for_whom":
			click(step, q, "self")
		case "behaviours":
			tick(q, q.Blocks.options()[1])
		case "wellbeing":
			click(step, q, "hard")
		case "talk":
			click(step, q, "yes")
		case "route":
			click(step, q, mamori.RouteDepartment)
		case "summary":
			click(step, q, "submit")
			receipt := r.waitFor(emp, st.DM, "a case number", func(m feedMessage) bool { return caseNumber.MatchString(m.all) })
			return caseNumber.FindString(receipt.all)
		default:
			if vs := q.Blocks.values(); len(vs) > 0 && vs[0] != "nav:skip" && vs[0] != "nav:keep" {
				click(step, q, vs[0])
				continue
			}
			r.shown(emp)
			text := answers[step]
			if text == "" {
				text = "回答：" + step // a question added since
			}
			typing(step, text)
		}
	}
	r.t.Fatal("no summary after 40 questions")
	return ""
}

// answers are what the reporter types, by question.
var answers = map[string]string{
	"when": "昨日の18時ごろ", "place": "新宿店のレジ", "customer": "50代くらいの男性", "demand": "返金と土下座",
	"narrative": "レジで大声で怒鳴られ、カウンターを叩かれた。", "words": "「責任者を出せ、土下座しろ」",
	"customer_id": "会員番号 M-20931",
}

// browser is a headless Chromium from the system's packages, on
// loopback only, with a screenshot directory.
type browser struct {
	t     *testing.T
	ctx   context.Context
	shots string
	n     atomic.Int32
	lang  string
	// version, when set, gives the feed's version now.
	version func() int64
}

// chromiumPath finds Debian's Chromium (or MAMORI_CHROMIUM).
func chromiumPath() string {
	if p := os.Getenv("MAMORI_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func newBrowser(t *testing.T, lang string) *browser {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		t.Skip("no chromium on this machine (apt-get install chromium; .ci/run installs it)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
		// Nothing but loopback, and nothing of Chromium's own.
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-crash-reporter", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("no-service-autorun", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.Flag("lang", map[string]string{"en": "en-US"}[lang]),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("chromium %s: %v", path, err)
	}
	shots := os.Getenv("MAMORI_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else {
		shots = filepath.Join(shots, lang)
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &browser{t: t, ctx: ctx, shots: shots, lang: lang}
}

// run runs actions in the page, within 30 s.
func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v", what, err)
	}
}

// shot saves a screenshot of the page as NN-name.png.
func (b *browser) shot(name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	// Let the page draw what the feed just brought.
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err == nil && len(png) == 0 {
		err = errors.New("empty")
	}
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	path := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.n.Add(1), name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Error(err)
	}
	return path
}

// click clicks the element sel finds, once it is visible and the page
// shows the workspace as the feed has it now (b.synced): a card updated in
// place moves its buttons, and a click where one was would hit another.
func (b *browser) click(what, sel string) {
	b.t.Helper()
	b.synced()
	b.run("click "+what, chromedp.ScrollIntoView(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// synced waits until the page has drawn the workspace's state as of now.
func (b *browser) synced() {
	b.t.Helper()
	if b.version == nil {
		return
	}
	v := b.version()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf("Number(document.body.dataset.version) >= %d", v))); err != nil {
		b.shot("failed-sync")
		b.t.Fatalf("the page did not show version %d: %v", v, err)
	}
}

// rendersAll fails the test when the page shows a block or element it
// could not render (marked .b-unknown): what the adapter posts must all
// have a look.
func (b *browser) rendersAll(where string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	unknown, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('.b-unknown')).map((e) => e.textContent)`))
	if err != nil {
		b.t.Fatalf("%s: %v", where, err)
	}
	if len(unknown) > 0 {
		b.t.Errorf("%s: the page could not render %v", where, unknown)
	}
}

// waitDOM waits until the page shows what sel finds.
func (b *browser) waitDOM(what, sel string) {
	b.t.Helper()
	b.run("wait for "+what, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// as switches the page to person id with the person switcher's button.
func (b *browser) as(role, id string) {
	b.t.Helper()
	b.click("the "+role, fmt.Sprintf(`#cast button[data-cast=%q]`, role))
	b.waitDOM("the page as "+role, fmt.Sprintf(`body[data-as=%q]`, id))
}

func msgSel(pane, ts string) string { return fmt.Sprintf(`#%s .msg[data-ts=%q]`, pane, ts) }

var screenshotKeep = regexp.MustCompile(`^(menu|behaviours|summary)$`)

// TestSandboxBrowser files a report, judges it and takes up its care
// task in the sandbox's page in Chromium, in Japanese and in English,
// saving screenshots (MAMORI_SCREENSHOTS=DIR keeps them).
func TestSandboxBrowser(t *testing.T) {
	if chromiumPath() == "" {
		t.Skip("no chromium on this machine (apt-get install chromium; .ci/run installs it)")
	}
	for _, lang := range []string{"ja", "en"} {
		t.Run(lang, func(t *testing.T) { browseSandbox(t, lang) })
	}
}

func browseSandbox(t *testing.T, lang string) {
	r := startSandbox(t)
	b := newBrowser(t, lang)
	b.version = func() int64 { return r.state("").Version }
	policy := builtinPolicy(t)
	l := mamori.Lang(lang)
	tr := func(key string, a ...any) string { return fmt.Sprintf(policy.T(l, key), a...) }
	ja := func(key string, a ...any) string { return fmt.Sprintf(policy.T(mamori.JA, key), a...) }

	st := r.state("")
	emp, sup, hr, col := st.Cast["employee"], st.Cast["supervisor"], st.Cast["hr"], st.Cast["colleague"]
	supCh, hrCh := supervisorChannel(st), hrChannel(st)
	b.run("open the page", chromedp.Navigate(r.base+"/?as="+emp), chromedp.WaitVisible(chromedp.CSS(`body[data-version]`)))
	if lang == "en" {
		b.click("English", `button[data-lang="en"]`)
		b.waitDOM("the page in English", `html[lang="en"]`)
	}
	b.shot("start")

	// The employee reports in the DM, with the page's buttons and composer.
	compose := `#pane-dm textarea`
	number := r.report(emp, func(step string, q feedMessage, value string) {
		sel := msgSel("dm-body", q.TS) + fmt.Sprintf(` button[data-value=%q]`, value)
		b.waitDOM(step, sel)
		if screenshotKeep.MatchString(step) {
			b.shot(step)
		}
		b.click(step+" "+value, sel)
	}, func(step, text string) {
		b.run("type "+step, chromedp.Click(chromedp.CSS(compose)), chromedp.SendKeys(chromedp.CSS(compose), text+kb.Enter))
	}, func(q feedMessage, value string) {
		b.waitDOM("the behaviours", msgSel("dm-body", q.TS)+` input[type=checkbox]`)
		b.click("a behaviour", msgSel("dm-body", q.TS)+fmt.Sprintf(` input[type=checkbox][value=%q]`, value))
		b.shot("behaviours")
		b.click("submit the behaviours", msgSel("dm-body", q.TS)+fmt.Sprintf(` button[data-value=%q]`, q.Blocks.submitValue()))
	})
	b.waitDOM("the receipt", `#dm-body .msg:last-child`)
	b.shot("receipt")
	if lang == "en" {
		receipt := r.waitFor(emp, st.DM, "the receipt", func(m feedMessage) bool { return strings.Contains(m.all, number) })
		if !strings.Contains(receipt.all, tr("receipt.header", number)) && !strings.Contains(receipt.all, "Thank you") {
			t.Errorf("the receipt is not in English:\n%s", receipt.all)
		}
	}

	// The card in the supervisors' channel; the colleague may not see its
	// details: a note only they see.
	card := r.waitFor(sup, supCh, "the case card", func(m feedMessage) bool {
		return strings.Contains(m.all, number) && strings.Contains(m.all, mamori.CardTake)
	})
	b.as("colleague", col)
	b.click("details", msgSel("sup-body", card.TS)+fmt.Sprintf(` button[data-value=%q]`, mamori.CardDetails+":"+number))
	b.waitDOM("the refusal", `#sup-body .msg.ephemeral`)
	if refusal := r.waitFor(col, supCh, "the refusal", func(m feedMessage) bool { return m.Ephemeral }); !strings.Contains(refusal.all, tr("details.refused")) {
		t.Errorf("the colleague's note:\n%s", refusal.all)
	}
	b.shot("colleague-refused")

	// The supervisor takes the case and judges it in the modal.
	b.as("supervisor", sup)
	b.click("take", msgSel("sup-body", card.TS)+fmt.Sprintf(` button[data-value=%q]`, mamori.CardTake+":"+number))
	r.waitFor(sup, supCh, "the take's note", func(m feedMessage) bool { return m.Ephemeral && strings.Contains(m.all, tr("judge.done.take", number)) })
	taken := r.waitFor(sup, supCh, "the card taken", func(m feedMessage) bool {
		return m.TS == card.TS && strings.Contains(m.all, mamori.CardJudge) && strings.Contains(m.all, "<@"+sup+">")
	})
	b.click("judge", msgSel("sup-body", taken.TS)+fmt.Sprintf(` button[data-value=%q]`, mamori.CardJudge+":"+number))
	b.waitDOM("the judge modal", `#modal-root .modal-box`)
	b.shot("judge-modal")
	b.rendersAll("the judge modal")
	in := func(block, value string) string {
		return fmt.Sprintf(`#modal-root .b-input[data-block=%q] input[value=%q]`, block, value)
	}
	b.click("validity", in("validity", "invalid"))
	b.click("means", in("means", "unacceptable"))
	b.click("outcome", in("outcome", mamori.OutcomeKasuhara))
	b.click("warn", in("actions", "warn"))
	b.run("facts", chromedp.SendKeys(chromedp.CSS(`#modal-root .b-input[data-block="facts"] textarea`), "防犯カメラの映像で確認"))
	b.shot("judge-filled")
	b.click("submit the judgement", `#modal-submit`)
	b.run("the modal closes", chromedp.WaitNotPresent(chromedp.CSS(`#modal-root .modal-box`)))
	// The channel's card is in the organisation's language (ja).
	r.waitFor(sup, supCh, "the judged card", func(m feedMessage) bool { return m.TS == card.TS && strings.Contains(m.all, ja("status.judged")) })
	b.shot("judged")

	// HR acknowledges the care task and notes a contact in a modal.
	task := r.waitFor(hr, hrCh, "the care task", func(m feedMessage) bool {
		return strings.Contains(m.all, mamori.CareAck+":") && strings.Contains(m.all, number)
	})
	b.as("hr", hr)
	b.click("acknowledge", msgSel("hr-body", task.TS)+fmt.Sprintf(` button[data-value=%q]`, task.Blocks.buttonValue(mamori.CareAck)))
	r.waitFor(hr, hrCh, "the acknowledgement's note", func(m feedMessage) bool {
		return m.Ephemeral && strings.Contains(m.all, tr("caretask.done.care_ack", number))
	})
	acked := r.waitFor(hr, hrCh, "the acknowledged task", func(m feedMessage) bool {
		return m.TS == task.TS && strings.Contains(m.all, mamori.CareNoteAction+":")
	})
	b.click("note a contact", msgSel("hr-body", task.TS)+fmt.Sprintf(` button[data-value=%q]`, acked.Blocks.buttonValue(mamori.CareNoteAction)))
	b.waitDOM("the note modal", `#modal-root .b-input[data-block="note"]`)
	b.run("the note", chromedp.SendKeys(chromedp.CSS(`#modal-root .b-input[data-block="note"] textarea`), "電話で話し、産業医面談を予約した"))
	b.shot("care-note")
	b.click("submit the note", `#modal-submit`)
	b.run("the modal closes", chromedp.WaitNotPresent(chromedp.CSS(`#modal-root .modal-box`)))
	r.waitFor(hr, hrCh, "the task with the contact", func(m feedMessage) bool { return m.TS == task.TS && strings.Contains(m.all, ja("caretask.contacts")) })
	b.shot("care-task")
	b.rendersAll("the channels")

	// The demo clock: a day or more on, the employee's check-in.
	b.as("employee", emp)
	for i := 0; i < 4; i++ {
		if strings.Contains(fmt.Sprint(r.messages(emp, st.DM)), "/checkin") {
			break
		}
		b.click("+1d", `button[data-by="1d"]`)
		b.run("the clock moved", chromedp.WaitEnabled(chromedp.CSS(`button[data-by="1d"]`)))
	}
	checkin := r.waitFor(emp, st.DM, "the check-in", func(m feedMessage) bool { return m.Blocks.askedStep() == "checkin" })
	b.waitDOM("the check-in", msgSel("dm-body", checkin.TS))
	b.shot("checkin")

	// SOS from the shortcuts menu: the alert reaches the channels; three
	// demo minutes without an answer, the supervisor's DM; they are on it.
	b.click("the shortcuts", `#shortcut`)
	b.click("SOS", `#menu-root button[data-shortcut="sos"]`)
	alert := r.waitFor(sup, supCh, "the SOS alert", func(m feedMessage) bool { return strings.Contains(m.all, mamori.SOSAck+":") })
	b.shot("sos-raised")
	b.click("+3m", `button[data-by="3m"]`)
	b.run("the clock moved", chromedp.WaitEnabled(chromedp.CSS(`button[data-by="3m"]`)))
	supDM := "D" + strings.TrimPrefix(sup, "U")
	r.waitFor(sup, supDM, "the escalation by DM", func(m feedMessage) bool { return strings.Contains(m.all, mamori.SOSAck+":") })
	b.as("supervisor", sup)
	b.shot("sos-escalated")
	b.click("I'm on it", msgSel("sup-body", alert.TS)+fmt.Sprintf(` button[data-value=%q]`, alert.Blocks.buttonValue(mamori.SOSAck)))
	r.waitFor(emp, st.DM, "who is coming", func(m feedMessage) bool { return strings.Contains(m.all, "<@"+sup+">") })
	b.as("employee", emp)
	b.shot("sos-answered")

	// App Home, then a phone's width.
	b.click("Home", `.ptab[data-view="home"]`)
	b.waitDOM("App Home", `#home-body .blocks`)
	b.shot("home")
	b.rendersAll("App Home and the DM")
	b.run("a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile), chromedp.Click(chromedp.CSS(`.ptab[data-view="messages"]`)))
	b.shot("phone-dm")
	b.click("the supervisors' tab", `#tabs button[data-pane="sup"]`)
	b.shot("phone-supervisors")
	t.Logf("screenshots in %s", b.shots)
}
