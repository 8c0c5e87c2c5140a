package slack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack"
	"github.com/mamori-oss/mamori/bot/slack/slacktest"
)

const judgeCase = "KH-2026-0042"

// judgeCard is a case card with the supervisor's buttons.
func judgeCard() mamori.Message {
	return mamori.Message{
		Ref: "card:" + judgeCase, Header: "カスハラ報告 " + judgeCase, Step: mamori.StepCard,
		Choices: []mamori.Choice{
			{Value: mamori.CardTake + ":" + judgeCase, Label: "担当する", Style: mamori.StylePrimary},
			{Value: mamori.CardJudge + ":" + judgeCase, Label: "判断する"},
			{Value: mamori.CardReopen + ":" + judgeCase, Label: "再開する"},
			{Value: mamori.CardAsk + ":" + judgeCase, Label: "報告者に質問する"},
			{Value: mamori.CardDetails + ":" + judgeCase, Label: "詳細を見る"},
		},
	}
}

// caseDetail is the flows' confidential view of the case, with the card's
// fields the judge modal shows and a narrative it must not.
func caseDetail() mamori.Message {
	return mamori.Message{Header: "カスハラ報告 " + judgeCase, Fields: []mamori.Field{
		{Label: "緊急度", Value: "🟠 高"},
		{Label: "言動の分類", Value: "身体的な攻撃（暴行、傷害）\n威圧的な言動"},
		{Label: "方針からの目安", Value: "カスハラの可能性が高い（要求にかかわらず不相当な言動あり）"},
		{Label: "注意", Value: "犯罪にあたる可能性があります。警察への相談を検討してください。"},
		{Label: "出来事", Value: "大声で三十分怒鳴られた"},
	}}
}

var suggested = mamori.Decision{Validity: "invalid", Means: "unacceptable", Fault: "no",
	Outcome: mamori.OutcomeKasuhara, Actions: []string{"police"}}

// submit posts a view_submission and returns the status and the decoded
// JSON answer (nil for an empty one).
func (h *harness) submit(payload map[string]any) (int, map[string]any) {
	h.t.Helper()
	status, body := h.interact(payload)
	if strings.TrimSpace(body) == "" {
		return status, nil
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		h.t.Fatalf("answer %q is not JSON: %v", body, err)
	}
	return status, out
}

// openedForm returns the form of the n-th modal opened (from 1).
func (h *harness) openedForm(n int) *slacktest.Form {
	h.t.Helper()
	opens := h.api.WaitCalls(h.t, "views.open", n, 5*time.Second)
	f, err := slacktest.OpenedForm(opens[n-1])
	if err != nil {
		h.t.Fatal(err)
	}
	return f
}

func TestCardTake(t *testing.T) {
	h := newHarness(t)
	blocks := blocksOf(t, judgeCard())
	h.flows.setAct("Take", detailsAnswer{msg: mamori.Message{Text: judgeCase + " を担当します。"}})
	if status, _ := h.interact(clickPayload(t, "USUP", "CSUP", blocks, "take:"+judgeCase)); status != http.StatusOK {
		t.Fatalf("status = %d", status)
	}
	calls := h.flows.CaseCalls()
	if len(calls) != 1 || calls[0].Method != "Take" || calls[0].Number != judgeCase || calls[0].User.ID != "USUP" ||
		calls[0].User.Email != "sato@example.co.jp" {
		t.Fatalf("calls = %+v", calls)
	}
	eph := h.api.WaitCalls(t, "chat.postEphemeral", 1, 5*time.Second)[0]
	if eph.Get("channel") != "CSUP" || eph.Get("user") != "USUP" || !strings.Contains(eph.Get("text"), "を担当します") {
		t.Errorf("ephemeral = %v", eph.Params)
	}

	// A refusal is for the clicker's eyes only, too.
	h.flows.setAct("Take", detailsAnswer{msg: mamori.Message{Text: "Sorry, only the department's supervisors and HR can handle this case."},
		err: fmt.Errorf("take: %w", mamori.ErrForbidden)})
	if status, _ := h.interact(clickPayload(t, "UEN", "CSUP", blocks, "take:"+judgeCase)); status != http.StatusOK {
		t.Fatalf("status = %d", status)
	}
	eph = h.api.WaitCalls(t, "chat.postEphemeral", 2, 5*time.Second)[1]
	if eph.Get("user") != "UEN" || !strings.Contains(eph.Get("text"), "Sorry, only") {
		t.Errorf("refusal = %v", eph.Params)
	}

	// A failure says so and is not acknowledged.
	h.flows.setAct("Take", detailsAnswer{msg: mamori.Message{Text: "error"}, err: fmt.Errorf("database is locked")})
	status, body := h.interact(clickPayload(t, "USUP", "CSUP", blocks, "take:"+judgeCase))
	if status != http.StatusInternalServerError || strings.Contains(body, "database") {
		t.Errorf("status %d body %q", status, body)
	}
	eph = h.api.WaitCalls(t, "chat.postEphemeral", 3, 5*time.Second)[2]
	if !strings.Contains(eph.Get("text"), "うまくいきませんでした") {
		t.Errorf("failure = %v", eph.Params)
	}
	if n := len(h.flows.Inputs()); n != 0 {
		t.Errorf("take went to Handle: %d inputs", n)
	}
}

func TestCardJudge(t *testing.T) {
	h := newHarness(t)
	blocks := blocksOf(t, judgeCard())
	h.flows.setSuggestion(suggested, nil)
	h.flows.setDetails(judgeCase, detailsAnswer{msg: caseDetail()})

	if status, _ := h.interact(clickPayload(t, "USUP", "CSUP", blocks, "judge:"+judgeCase)); status != http.StatusOK {
		t.Fatalf("status = %d", status)
	}
	open := h.api.WaitCalls(t, "views.open", 1, 5*time.Second)[0]
	if open.Get("trigger_id") != "1790000001.738474920.triggerUSUP" {
		t.Errorf("trigger_id = %q", open.Get("trigger_id"))
	}
	var view struct {
		CallbackID      string `json:"callback_id"`
		PrivateMetadata string `json:"private_metadata"`
		Blocks          []struct {
			Type    string `json:"type"`
			BlockID string `json:"block_id"`
			Element struct {
				InitialOption  *struct{ Value string }  `json:"initial_option"`
				InitialOptions []struct{ Value string } `json:"initial_options"`
				Options        []struct{ Value string } `json:"options"`
			} `json:"element"`
		} `json:"blocks"`
	}
	if err := open.Decode("view", &view); err != nil {
		t.Fatal(err)
	}
	raw := open.Get("view")
	if view.CallbackID != "mamori.judge" || !strings.Contains(view.PrivateMetadata, judgeCase) || !strings.Contains(view.PrivateMetadata, "CSUP") {
		t.Errorf("callback %q metadata %q", view.CallbackID, view.PrivateMetadata)
	}
	got := map[string]string{}
	for _, b := range view.Blocks {
		if b.Type != "input" {
			continue
		}
		switch {
		case b.Element.InitialOption != nil:
			got[b.BlockID] = b.Element.InitialOption.Value
		case b.Element.InitialOptions != nil:
			var vs []string
			for _, o := range b.Element.InitialOptions {
				vs = append(vs, o.Value)
			}
			got[b.BlockID] = strings.Join(vs, ",")
		default:
			got[b.BlockID] = ""
		}
		if b.BlockID == "judge.outcome" && len(b.Element.Options) != 4 {
			t.Errorf("seed 004 has the medical exception: want 4 outcomes, got %v", b.Element.Options)
		}
	}
	want := map[string]string{"judge.facts": "", "judge.validity": "invalid", "judge.means": "unacceptable", "judge.fault": "no",
		"judge.outcome": "kasuhara", "judge.actions": "police", "judge.note": ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pre-filled inputs (-want +got):\n%s", diff)
	}
	for _, s := range []string{"威圧的な言動", "カスハラの可能性が高い", "犯罪にあたる可能性"} {
		if !strings.Contains(raw, s) {
			t.Errorf("the modal lacks %q", s)
		}
	}
	if strings.Contains(raw, "怒鳴られた") {
		t.Errorf("the judge modal shows the narrative")
	}

	// Submitting what was pre-filled, with facts and a note typed and a
	// second action ticked, records that decision.
	var reported mamori.Decision
	h.flows.setJudge(func(d mamori.Decision) (mamori.Message, error) {
		reported = d
		return mamori.Message{Text: judgeCase + " の判断を記録しました。"}, nil
	})
	form := h.openedForm(1)
	for _, err := range []error{
		form.Type("judge.facts", "  防犯カメラで確認した  "),
		form.Type("judge.note", "店長にも共有"),
		form.Choose("judge.actions", "police", "refuse"),
		form.Choose("judge.validity", "partly"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	status, ack := h.submit(form.Submission("USUP"))
	if status != http.StatusOK || ack["response_action"] != "clear" {
		t.Fatalf("submission answered %d %v", status, ack)
	}
	wantD := mamori.Decision{Facts: "防犯カメラで確認した", Validity: "partly", Means: "unacceptable", Fault: "no",
		Outcome: mamori.OutcomeKasuhara, Actions: []string{"police", "refuse"}, Note: "店長にも共有"}
	if diff := cmp.Diff(wantD, reported); diff != "" {
		t.Errorf("decision (-want +got):\n%s", diff)
	}
	calls := h.flows.CaseCalls()
	if last := calls[len(calls)-1]; last.Method != "Judge" || last.User.ID != "USUP" || last.Number != judgeCase {
		t.Errorf("last call = %+v", last)
	}
	eph := h.api.WaitCalls(t, "chat.postEphemeral", 1, 5*time.Second)[0]
	if eph.Get("channel") != "CSUP" || eph.Get("user") != "USUP" || !strings.Contains(eph.Get("text"), "判断を記録しました") {
		t.Errorf("confirmation = %v", eph.Params)
	}

	// A refused decision keeps the modal open, with the flows' words under
	// the input concerned.
	h.flows.setJudge(func(d mamori.Decision) (mamori.Message, error) {
		if d.Validity == "" {
			return mamori.Message{Text: "「① 要求の妥当性」を選んでください。"}, fmt.Errorf("pick: %w", mamori.ErrInvalid)
		}
		return mamori.Message{Text: "この案件は判断済みです。"}, fmt.Errorf("judged: %w", mamori.ErrInvalid)
	})
	form = h.openedForm(1)
	if err := form.Choose("judge.validity"); err != nil {
		t.Fatal(err)
	}
	status, ack = h.submit(form.Submission("USUP"))
	wantAck := map[string]any{"response_action": "errors", "errors": map[string]any{"judge.validity": "「① 要求の妥当性」を選んでください。"}}
	if diff := cmp.Diff(wantAck, ack); status != http.StatusOK || diff != "" {
		t.Errorf("status %d, ack (-want +got):\n%s", status, diff)
	}
	status, ack = h.submit(h.openedForm(1).Submission("USUP"))
	wantAck = map[string]any{"response_action": "errors", "errors": map[string]any{"judge.outcome": "この案件は判断済みです。"}}
	if diff := cmp.Diff(wantAck, ack); status != http.StatusOK || diff != "" {
		t.Errorf("status %d, ack (-want +got):\n%s", status, diff)
	}
	// Someone who may not judge, and a failure: errors too, nothing leaks.
	h.flows.setJudge(func(mamori.Decision) (mamori.Message, error) {
		return mamori.Message{Text: "Sorry, only the department's supervisors and HR can handle this case."}, mamori.ErrForbidden
	})
	status, ack = h.submit(h.openedForm(1).Submission("UEN"))
	if errs, _ := ack["errors"].(map[string]any); status != http.StatusOK || !strings.Contains(fmt.Sprint(errs["judge.outcome"]), "Sorry") {
		t.Errorf("forbidden: %d %v", status, ack)
	}
	h.flows.setJudge(func(mamori.Decision) (mamori.Message, error) {
		return mamori.Message{Text: "error"}, fmt.Errorf("disk I/O error")
	})
	status, ack = h.submit(h.openedForm(1).Submission("USUP"))
	if errs, _ := ack["errors"].(map[string]any); status != http.StatusOK || !strings.Contains(fmt.Sprint(errs["judge.outcome"]), "うまくいきませんでした") {
		t.Errorf("failure: %d %v", status, ack)
	}
	if n := len(h.api.Calls("chat.postEphemeral")); n != 1 {
		t.Errorf("%d ephemerals, want only the one confirmation", n)
	}
	if n := len(h.flows.Inputs()); n != 0 {
		t.Errorf("judging went to Handle: %d inputs", n)
	}
}

func TestCardJudgeForbidden(t *testing.T) {
	h := newHarness(t)
	blocks := blocksOf(t, judgeCard())
	h.flows.setSuggestion(mamori.Decision{}, fmt.Errorf("suggestion: %w", mamori.ErrForbidden))
	h.flows.setJudge(func(mamori.Decision) (mamori.Message, error) {
		return mamori.Message{Text: "Sorry, only the department's supervisors and HR can handle this case."}, mamori.ErrForbidden
	})
	if status, _ := h.interact(clickPayload(t, "UEN", "CSUP", blocks, "judge:"+judgeCase)); status != http.StatusOK {
		t.Fatalf("status = %d", status)
	}
	eph := h.api.WaitCalls(t, "chat.postEphemeral", 1, 5*time.Second)[0]
	if eph.Get("channel") != "CSUP" || eph.Get("user") != "UEN" || !strings.Contains(eph.Get("text"), "Sorry, only") {
		t.Errorf("refusal = %v", eph.Params)
	}
	if n := len(h.api.Calls("views.open")); n != 0 {
		t.Errorf("%d modals opened for someone who may not judge", n)
	}
	calls := h.flows.CaseCalls()
	if len(calls) != 2 || calls[0].Method != "Suggestion" || calls[1].Method != "Judge" ||
		!cmp.Equal(calls[1].Decision, mamori.Decision{}) || calls[1].User.ID != "UEN" {
		t.Errorf("calls = %+v", calls)
	}
	if v := h.flows.Viewers(); len(v) != 0 {
		t.Errorf("details were read for a refused judge: %+v", v)
	}
}

func TestCardReopen(t *testing.T) {
	h := newHarness(t)
	blocks := blocksOf(t, judgeCard())
	h.interact(clickPayload(t, "UEN", "CSUP", blocks, "reopen:"+judgeCase))
	form := h.openedForm(1)
	open := h.api.Calls("views.open")[0]
	if v := open.Get("view"); !strings.Contains(v, `"callback_id":"mamori.reopen"`) || !strings.Contains(v, "Reason for reopening") {
		t.Errorf("reopen modal = %s", v)
	}

	// No reason: the flows' words under the reason.
	h.flows.setAct("Reopen", detailsAnswer{msg: mamori.Message{Text: "Please give a reason for reopening."}, err: fmt.Errorf("reason: %w", mamori.ErrInvalid)})
	status, ack := h.submit(form.Submission("UEN"))
	wantAck := map[string]any{"response_action": "errors", "errors": map[string]any{"reopen.reason": "Please give a reason for reopening."}}
	if diff := cmp.Diff(wantAck, ack); status != http.StatusOK || diff != "" {
		t.Errorf("status %d, ack (-want +got):\n%s", status, diff)
	}

	h.flows.setAct("Reopen", detailsAnswer{msg: mamori.Message{Text: judgeCase + " is reopened."}})
	if err := form.Type("reopen.reason", "New CCTV footage"); err != nil {
		t.Fatal(err)
	}
	status, ack = h.submit(form.Submission("UEN"))
	if status != http.StatusOK || ack["response_action"] != "clear" {
		t.Errorf("submission answered %d %v", status, ack)
	}
	calls := h.flows.CaseCalls()
	if last := calls[len(calls)-1]; last.Method != "Reopen" || last.Reason != "New CCTV footage" || last.User.ID != "UEN" || last.Number != judgeCase {
		t.Errorf("calls = %+v", calls)
	}
	eph := h.api.WaitCalls(t, "chat.postEphemeral", 1, 5*time.Second)[0]
	if eph.Get("user") != "UEN" || !strings.Contains(eph.Get("text"), "is reopened") {
		t.Errorf("confirmation = %v", eph.Params)
	}

	// Someone who may not act gets no modal, only the refusal.
	h.flows.setSuggestion(mamori.Decision{}, mamori.ErrForbidden)
	h.flows.setAct("Reopen", detailsAnswer{msg: mamori.Message{Text: "Sorry, only the department's supervisors and HR can handle this case."}, err: mamori.ErrForbidden})
	h.interact(clickPayload(t, "UJA", "CSUP", blocks, "reopen:"+judgeCase))
	eph = h.api.WaitCalls(t, "chat.postEphemeral", 2, 5*time.Second)[1]
	if eph.Get("user") != "UJA" || !strings.Contains(eph.Get("text"), "Sorry, only") {
		t.Errorf("refusal = %v", eph.Params)
	}
	if n := len(h.api.Calls("views.open")); n != 1 {
		t.Errorf("views.open calls = %d, want 1", n)
	}
}

func TestMalformedViewSubmission(t *testing.T) {
	h := newHarness(t)
	post := func(payload string) (int, string) {
		return h.post("/slack/interactivity", formType, []byte(url.Values{"payload": {payload}}.Encode()), 0, nil)
	}
	for name, p := range map[string]string{
		"no view":               `{"type":"view_submission","user":{"id":"USUP"}}`,
		"no user":               `{"type":"view_submission","view":{"callback_id":"mamori.judge","private_metadata":"{\"case\":\"KH-2026-0042\"}"}}`,
		"metadata not JSON":     `{"type":"view_submission","user":{"id":"USUP"},"view":{"callback_id":"mamori.judge","private_metadata":"KH-2026-0042"}}`,
		"metadata without case": `{"type":"view_submission","user":{"id":"USUP"},"view":{"callback_id":"mamori.reopen","private_metadata":"{}"}}`,
		"state of the wrong shape": `{"type":"view_submission","user":{"id":"USUP"},"view":{"callback_id":"mamori.judge","private_metadata":"{\"case\":\"X\"}",` +
			`"state":{"values":{"judge.validity":["x"]}}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			status, body := post(p)
			if status != http.StatusBadRequest || strings.TrimSpace(body) == "" {
				t.Errorf("status %d body %q, want 400 with a reason", status, body)
			}
		})
	}
	// A submission without state reaches the flows with nothing chosen,
	// for them to refuse; another modal's submission is only acknowledged.
	h.flows.setJudge(func(d mamori.Decision) (mamori.Message, error) {
		return mamori.Message{Text: "Please choose: ① Is the demand valid."}, mamori.ErrInvalid
	})
	status, body := post(`{"type":"view_submission","user":{"id":"USUP"},"view":{"callback_id":"mamori.judge","private_metadata":"{\"case\":\"KH-2026-0042\"}"}}`)
	if status != http.StatusOK || !strings.Contains(body, `"judge.validity"`) {
		t.Errorf("no state: %d %s", status, body)
	}
	status, body = post(`{"type":"view_submission","user":{"id":"USUP"},"view":{"callback_id":"mamori.details"}}`)
	if status != http.StatusOK || body != "" {
		t.Errorf("details modal: %d %q", status, body)
	}
}

func TestViewSubmissionOverSocketMode(t *testing.T) {
	api := slacktest.New(t, botToken)
	api.AddUser(slacktest.User{ID: "USUP", Name: "sato", Email: "sato@example.co.jp", Locale: "ja-JP"})
	flows := newFakeFlows()
	flows.setSuggestion(suggested, nil)
	ad, err := slack.New(slack.Config{BotToken: botToken, AppToken: api.AppToken, APIURL: api.URL,
		Log: slog.New(slog.DiscardHandler), Policy: testPolicy()}, flows)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ad.RunSocketMode(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		ad.Close()
	})

	env := api.SendEnvelope(t, "interactive", clickPayload(t, "USUP", "CSUP", blocksOf(t, judgeCard()), "judge:"+judgeCase))
	api.WaitAck(t, env, 5*time.Second)
	open := api.WaitCalls(t, "views.open", 1, 5*time.Second)[0]
	form, err := slacktest.OpenedForm(open)
	if err != nil {
		t.Fatal(err)
	}

	// The ack of a refused submission carries the errors.
	flows.setJudge(func(mamori.Decision) (mamori.Message, error) {
		return mamori.Message{Text: "判断済みです。"}, mamori.ErrInvalid
	})
	env = api.SendEnvelope(t, "interactive", form.Submission("USUP"))
	var ack map[string]any
	if err := json.Unmarshal(api.WaitAck(t, env, 5*time.Second), &ack); err != nil || ack["response_action"] != "errors" {
		t.Errorf("ack = %v (%v)", ack, err)
	}
	// An accepted one closes the modal.
	flows.setJudge(func(mamori.Decision) (mamori.Message, error) {
		return mamori.Message{Text: "記録しました。"}, nil
	})
	env = api.SendEnvelope(t, "interactive", form.Submission("USUP"))
	if err := json.Unmarshal(api.WaitAck(t, env, 5*time.Second), &ack); err != nil || ack["response_action"] != "clear" {
		t.Errorf("ack = %v (%v)", ack, err)
	}
	eph := api.WaitCalls(t, "chat.postEphemeral", 1, 5*time.Second)[0]
	if eph.Get("channel") != "CSUP" || !strings.Contains(eph.Get("text"), "記録しました") {
		t.Errorf("confirmation = %v", eph.Params)
	}
}

func TestCardAsk(t *testing.T) {
	h := newHarness(t)
	blocks := blocksOf(t, judgeCard())
	h.interact(clickPayload(t, "UEN", "CSUP", blocks, "ask:"+judgeCase))
	form := h.openedForm(1)
	if v := h.api.Calls("views.open")[0].Get("view"); !strings.Contains(v, `"callback_id":"mamori.ask"`) || !strings.Contains(v, "Ask the reporter") {
		t.Errorf("ask modal = %s", v)
	}
	h.flows.setAct("Ask", detailsAnswer{msg: mamori.Message{Text: "Your question was sent."}})
	if err := form.Type("ask.question", "How many times has the customer called?"); err != nil {
		t.Fatal(err)
	}
	status, ack := h.submit(form.Submission("UEN"))
	if status != http.StatusOK || ack["response_action"] != "clear" {
		t.Errorf("submission answered %d %v", status, ack)
	}
	calls := h.flows.CaseCalls()
	if last := calls[len(calls)-1]; last.Method != "Ask" || last.Reason != "How many times has the customer called?" || last.Number != judgeCase {
		t.Errorf("calls = %+v", calls)
	}
}
