package slack_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/goccy/go-yaml"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/slack"
	"github.com/mamori-oss/mamori/flows"
	"github.com/mamori-oss/mamori/flows/flowstest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

// behaviourLabels are seed 004's sixteen behaviours, long ones included.
var behaviourLabels = [][2]string{
	{"身体的な攻撃（暴行、傷害）", "Physical attack (assault, injury)"},
	{"精神的な攻撃（脅迫、中傷、名誉毀損、侮辱、暴言）", "Mental attack (threats, slander, defamation, insults, abusive language)"},
	{"威圧的な言動", "Intimidating words or behaviour"},
	{"土下座の要求", "Demanding that staff kneel and bow to the floor (dogeza)"},
	{"継続的な（繰り返される）、執拗な（しつこい）言動", "Continued (repeated) or relentless words or behaviour"},
	{"拘束的な行動（不退去、長時間の電話・居座り、監禁、何度も同じ説明をさせる、要求する）", "Keeping staff tied up (refusing to leave, long phone calls, staying put, confinement, making staff explain or demanding the same thing again and again)"},
	{"差別的な言動", "Discriminatory words or behaviour"},
	{"社員個人への攻撃、要求", "Attacks on, or demands of, an individual employee"},
	{"許可なく当社関連施設内に立ち入る行為", "Entering our premises without permission"},
	{"許可なく録音、および当社で働く社員や当社関連施設を撮影する行為", "Recording, or filming our employees or premises, without permission"},
	{"社員を欺く行為", "Deceiving employees"},
	{"当社で働く社員の個人情報や会社・社員の信用を棄損させる行為等の SNS/インターネットへの投稿や投稿のほめかし（写真、音声、映像の公開）", "Posting, or hinting at posting, employees' personal information or anything that damages the company's or employees' reputation on social media or the internet (publishing photos, audio or video)"},
	{"盗撮、つきまとい、わいせつな行為、卑わいな言動、セクシュアルハラスメント", "Voyeuristic photos, stalking, indecent acts, lewd words or behaviour, sexual harassment"},
	{"サービス変更、商品交換の要求", "Demanding a change of service or an exchange of goods"},
	{"金銭補償の要求", "Demanding money as compensation"},
	{"謝罪の要求（土下座を除く）", "Demanding an apology (other than dogeza)"},
}

func multi16(lang int, submit string) *mamori.Multi {
	m := &mamori.Multi{Selected: []string{"b02", "b12"}, Submit: mamori.Choice{Value: "done", Label: submit}}
	for i, l := range behaviourLabels {
		m.Options = append(m.Options, mamori.Choice{Value: fmt.Sprintf("b%02d", i+1), Label: l[lang]})
	}
	return m
}

var navJA = []mamori.Choice{{Value: "back", Label: "戻る"}, {Value: "later", Label: "あとで続ける"}, {Value: "cancel", Label: "やめる", Style: mamori.StyleDanger}}
var navEN = []mamori.Choice{{Value: "back", Label: "Back"}, {Value: "later", Label: "Continue later"}, {Value: "cancel", Label: "Cancel", Style: mamori.StyleDanger}}

var goldenMessages = map[string]mamori.Message{
	"question_ja": {
		Header: "まず、あなたの安全について", Step: "safety",
		Text: "いま、安全な場所にいますか？　けがはありませんか？",
		Choices: []mamori.Choice{
			{Value: "safe", Label: "安全です", Style: mamori.StylePrimary},
			{Value: "danger", Label: "危険を感じている", Style: mamori.StyleDanger},
			{Value: "injured", Label: "けがをしている", Style: mamori.StyleDanger},
		},
		Controls: navJA[1:],
		Note:     "回答はその都度保存されます。途中でやめても、あとから続けられます。",
	},
	"question_en": {
		Header: "First, your safety", Step: "safety",
		Text: "Are you somewhere safe right now? Are you hurt?",
		Choices: []mamori.Choice{
			{Value: "safe", Label: "I am safe", Style: mamori.StylePrimary},
			{Value: "danger", Label: "I feel in danger", Style: mamori.StyleDanger},
			{Value: "injured", Label: "I am injured", Style: mamori.StyleDanger},
		},
		Controls: navEN[1:],
		Note:     "Each answer is saved as you give it. You can stop and carry on later.",
	},
	"prompt_ja": {
		Step: "narrative", Text: "何があったか、覚えている順に、あなたの言葉で書いてください。",
		Prompt: "このDMにメッセージで返信してください。写真や録音のファイルも送れます。", Controls: navJA,
	},
	"prompt_en": {
		Step: "narrative", Text: "What happened? Tell it in your own words, in the order you remember it.",
		Prompt: "Reply in this DM. You can also send photos or recordings.", Controls: navEN,
	},
	"multi_ja": {
		Step: "behaviours", Text: "お客様の言動のうち、当てはまるものをすべて選んでください。",
		Multi: multi16(0, "選択を確定する"), Controls: navJA,
	},
	"multi_en": {
		Step: "behaviours", Text: "Which of these did the customer do? Select all that apply.",
		Multi: multi16(1, "Confirm selection"), Controls: navEN,
	},
	"summary_en": {
		Header: "Please check your report", Step: "summary",
		Text: "Here is what you told me. Submit it, or change any answer first.",
		Fields: []mamori.Field{
			{Label: "Safety", Value: "Safe"}, {Label: "For", Value: "Myself"},
			{Label: "When", Value: "2026-10-01 14:30"}, {Label: "Where", Value: "Shinjuku branch, counter 3"},
			{Label: "Contact channel", Value: "In person"}, {Label: "Customer", Value: "Man in his 50s, regular <@U0ALL> & co."},
			{Label: "Demand", Value: "A full refund for a repair done last year"}, {Label: "Our fault?", Value: "No"},
			{Label: "Behaviours", Value: "Mental attack (threats, slander, defamation, insults, abusive language); Demanding money as compensation"},
			{Label: "What happened", Value: "He came to the counter at 14:30 and demanded a refund.\nWhen I explained the warranty had ended he shouted for about 40 minutes and said he would post my name online. <!channel>"},
			{Label: "Duration", Value: "About 40 minutes"}, {Label: "Witnesses", Value: "Ms Tanaka"},
			{Label: "Evidence", Value: "recording.m4a"}, {Label: "How you are", Value: "It was hard"},
		},
		Choices:  []mamori.Choice{{Value: "submit", Label: "Submit", Style: mamori.StylePrimary}, {Value: "edit", Label: "Change an answer"}},
		Controls: navEN,
		Note:     "Only you, your department's supervisors and HR can see the details.",
	},
	"summary_ja": {
		Header: "報告内容の確認", Step: "summary",
		Text: "この内容で報告します。修正したい項目があれば、先に修正してください。",
		Fields: []mamori.Field{
			{Label: "安全", Value: "安全"}, {Label: "対象", Value: "自分"},
			{Label: "日時", Value: "2026-10-01 14:30"}, {Label: "場所", Value: "新宿営業所 受付"},
			{Label: "接点", Value: "対面"}, {Label: "要求", Value: "昨年の修理代金の全額返金"},
			{Label: "行為", Value: "精神的な攻撃（脅迫、中傷、名誉毀損、侮辱、暴言）、金銭補償の要求"},
			{Label: "経緯", Value: "窓口で返金を求められ、保証期間が過ぎていると説明したところ、約40分にわたり大声で怒鳴られました。\n「SNSに名前を書く」と言われました。"},
		},
		Choices:  []mamori.Choice{{Value: "submit", Label: "この内容で報告する", Style: mamori.StylePrimary}, {Value: "edit", Label: "修正する"}},
		Controls: navJA,
	},
	"urgent_ja": {
		Header: "緊急：危険・負傷の報告があります", Urgent: true, Step: mamori.StepCard,
		Text: "新宿営業所の従業員から「危険を感じている」との報告がありました。すぐに本人の安全を確認してください。",
		Fields: []mamori.Field{
			{Label: "受付番号", Value: "KH-2026-0043"}, {Label: "部署", Value: "新宿営業所"},
			{Label: "報告者", Value: "山田 花子"}, {Label: "時刻", Value: "2026-10-01 14:32"},
		},
		Choices: []mamori.Choice{{Value: "ack:KH-2026-0043", Label: "対応します", Style: mamori.StylePrimary}},
		Note:    "110（警察）・119（救急）が必要な場合はためらわず通報してください。",
	},
	"card_ja": {
		Ref: "card:KH-2026-0042", Header: "カスハラ報告 KH-2026-0042", Step: mamori.StepCard,
		Text: "新しい報告が届きました。担当者を決め、事実を確認してください。",
		Fields: []mamori.Field{
			{Label: "部署", Value: "新宿営業所"}, {Label: "発生日", Value: "2026-10-01"},
			{Label: "接点", Value: "対面"}, {Label: "緊急度", Value: "高"},
			{Label: "方針による目安", Value: "カスハラの可能性が高い（要求の内容にかかわらず不相当な言動）"},
			{Label: "同じお客様の過去の事案", Value: "2件"},
		},
		Choices: []mamori.Choice{
			{Value: "take:KH-2026-0042", Label: "担当する", Style: mamori.StylePrimary},
			{Value: "details:KH-2026-0042", Label: "詳細を見る"},
		},
		Note: "詳細（経緯・お客様の情報）は権限のある方にだけ表示されます。",
	},
}

var goldenModal = mamori.Message{
	Header: "KH-2026-0042 details", Step: mamori.StepCard,
	Fields: []mamori.Field{
		{Label: "Reporter", Value: "Hanako Yamada"}, {Label: "Department", Value: "Shinjuku branch"},
		{Label: "Customer", Value: "Man in his 50s, membership no. 12345"},
		{Label: "What happened", Value: "He came to the counter at 14:30 and demanded a refund.\nHe shouted for about 40 minutes."},
		{Label: "Exact words", Value: "\"I'll post your name online.\""},
		{Label: "Files", Value: "recording.m4a"},
	},
	Note: "Viewed by Sato. This view is recorded in the audit trail.",
}

var goldenHome = mamori.Message{
	Header: "Mamori（守り）", Step: "home",
	Text: "お客様からのハラスメントで困ったときは、ひとりで抱えずに報告・相談してください。報告したことで不利益な扱いを受けることはありません。",
	Choices: []mamori.Choice{
		{Value: mamori.StartReport, Label: "報告する", Style: mamori.StylePrimary},
		{Value: mamori.StartConsult, Label: "相談する"},
		{Value: mamori.StartPolicy, Label: "会社の方針を見る"},
	},
	Fields: []mamori.Field{
		{Label: "KH-2026-0042", Value: "判断待ち（2026-10-01）"},
		{Label: "SD-2026-0007", Value: "相談受付（2026-09-20）"},
	},
	Note: "入力途中の報告があります。「報告する」から続けられます。",
}

// goldenForms are every form of the supervisors and HR as modals, built
// by the flows: seed 004 (with its medical exception) in Japanese, the
// MHLW manual (without) in English.
func goldenForms(t *testing.T) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, pl := range []struct {
		preset string
		lang   mamori.Lang
	}{{"seed-004", mamori.JA}, {"mhlw-2022", mamori.EN}} {
		p, err := mamori.Preset(pl.preset)
		if err != nil {
			t.Fatal(err)
		}
		for kind, f := range flowstest.Forms(p, pl.lang) {
			out["form_"+kind+"_"+string(pl.lang)] = slack.FormModal(f, "C0STORE")
		}
	}
	return out
}

func TestGolden(t *testing.T) {
	cases := map[string]any{}
	for name, m := range goldenMessages {
		cases[name] = slack.Blocks(m)
	}
	cases["details_modal_en"] = slack.ModalView(goldenModal)
	cases["home_ja"] = slack.HomeView(goldenHome)
	for name, f := range goldenForms(t) {
		cases[name] = f
	}
	for name, m := range goldenCards(t) {
		cases[name] = slack.Blocks(m)
	}
	for name, m := range goldenOnsite(t) {
		cases[name] = slack.Blocks(m)
	}
	for name, m := range goldenSOS(t) {
		cases[name] = slack.Blocks(m)
	}
	checkGolden(t, cases)
}

// goldenSOS is an SOS from the flows, as Slack shows it: the alert card in
// the store's supervisor channel (and HR's, and the on-call DMs) before
// and after someone pressed "I'm on it", and what the employee is told at
// once — SOS sent, with the place question, and the injury guidance — in
// both languages.
func goldenSOS(t *testing.T) map[string]mamori.Message {
	t.Helper()
	p, err := mamori.Preset("seed-004")
	if err != nil {
		t.Fatal(err)
	}
	org := &mamori.Org{HRChannel: "C0HR", Departments: []mamori.Department{{ID: "store",
		Name: mamori.Text{JA: "店舗運営部", EN: "Store operations"}, SupervisorChannel: "C0STORE", Supervisors: []string{"U0SATO"}}}}
	at := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	env := flows.Env{Policy: p, Org: org, Now: at}
	tokyo := time.FixedZone("JST", 9*3600)
	out := map[string]mamori.Message{}
	for _, l := range []mamori.Lang{mamori.JA, mamori.EN} {
		s := "_" + string(l)
		k := mamori.Case{Number: "SOS-2026-0003", Kind: mamori.KindSOS, Reporter: mamori.User{Platform: mamori.PlatformSlack, ID: "U0TANAKA", Lang: l},
			Department: "store", Route: mamori.RouteDepartment, Channel: "C0STORE", Status: mamori.StatusNew, Urgency: mamori.UrgencyUrgent,
			Created: at, Answers: mamori.Answers{Safety: "injured", Department: "store"},
			Decision: &mamori.Decision{Emergency: &mamori.Emergency{Place: "1階 レジ前 <!channel>"}}}
		raised := flows.SOSRaised(env, k, l, true)
		if len(raised) < 4 {
			t.Fatalf("SOSRaised gave %d messages, want the SOS sent and the injury guidance", len(raised))
		}
		out["sos_raised"+s] = raised[0]            // that it went out, first
		out["sos_injury"+s] = raised[2]            // after the on-the-spot guidance
		out["sos_where"+s] = raised[len(raised)-1] // the one question, last
		out["sos_alert"+s] = flows.SOSAlert(env, k, l, tokyo)
		k.Status, k.Assignee, k.Taken = mamori.StatusTaken, "slack:U0SATO", at.Add(2*time.Minute)
		out["sos_alert_acked"+s] = flows.SOSAlert(env, k, l, tokyo)
	}
	for name, m := range out {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(slack.Blocks(m)); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		// The place is what the employee typed: shown, never a mention.
		if bytes.Contains(b, []byte("<!channel>")) {
			t.Errorf("%s: typed text became a mention", name)
		}
		if strings.HasPrefix(name, "sos_alert") && !bytes.Contains(b, []byte("<@U0TANAKA>")) {
			t.Errorf("%s does not name the employee", name)
		}
	}
	return out
}

// goldenOnsite is the on-site response card (その場での対応) from the
// flows: seed 004's steps in Japanese, the MHLW manual's in English.
func goldenOnsite(t *testing.T) map[string]mamori.Message {
	t.Helper()
	out := map[string]mamori.Message{}
	for _, pl := range []struct {
		preset string
		lang   mamori.Lang
	}{{"seed-004", mamori.JA}, {"mhlw-2022", mamori.EN}} {
		p, err := mamori.Preset(pl.preset)
		if err != nil {
			t.Fatal(err)
		}
		out["onsite_"+string(pl.lang)] = flows.OnsiteMessage(flows.Env{Policy: p, Org: &mamori.Org{}}, pl.lang)
	}
	return out
}

// checkGolden compares each value's JSON with testdata/<name>.golden.json
// (or rewrites them with -update) and checks Slack's limits.
func checkGolden(t *testing.T, cases map[string]any) {
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			checkLimits(t, got)
			path := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./bot/slack -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the rendering; run go test ./bot/slack -update and review the diff.\ngot:\n%s", path, got)
			}
		})
	}
}

// TestLimits renders an outsized message and checks it stays within Slack's
// Block Kit limits, with its actions intact.
func TestLimits(t *testing.T) {
	var fields []mamori.Field
	for i := range 25 {
		fields = append(fields, mamori.Field{Label: fmt.Sprintf("項目%d", i), Value: strings.Repeat("値", i*10)})
	}
	fields = append(fields, mamori.Field{Label: "経緯", Value: strings.Repeat("長い説明です。", 1500)})
	var choices []mamori.Choice
	for i := range 30 {
		choices = append(choices, mamori.Choice{Value: fmt.Sprintf("c%d", i), Label: strings.Repeat("ボタン", 40)})
	}
	m := mamori.Message{
		Header: strings.Repeat("見出し", 100), Urgent: true, Step: "s",
		Text:    strings.Repeat("あ&<>😀 ", 5000) + "\n" + strings.Repeat("word ", 3000),
		Fields:  fields,
		Choices: choices,
		Multi:   &mamori.Multi{Options: choices, Selected: []string{"c1", "c29"}, Submit: mamori.Choice{Value: "ok", Label: "OK"}},
		Prompt:  strings.Repeat("ヒント", 3000), Controls: navJA, Note: "note",
	}
	for name, v := range map[string]any{"message": slack.Blocks(m), "modal": slack.ModalView(m), "home": slack.HomeView(m)} {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			checkLimits(t, b)
			for _, want := range []string{`"value":"c29"`, `"value":"ok"`, `"value":"cancel"`} {
				if !strings.Contains(string(b), want) {
					t.Errorf("lost %s", want)
				}
			}
		})
	}
	// Nothing typed becomes a mention.
	b, _ := json.Marshal(slack.Blocks(mamori.Message{Text: "<!channel> <@U1> <https://evil.example|bank>",
		Fields: []mamori.Field{{Label: "<!here>", Value: "<!everyone>"}}}))
	if strings.Contains(string(b), "<!") || strings.Contains(string(b), "<@") || strings.Contains(string(b), "<http") {
		t.Errorf("unescaped: %s", b)
	}
}

func units(s string) int { return len(utf16.Encode([]rune(s))) }

// checkLimits walks rendered Block Kit JSON and reports what Slack would
// refuse.
func checkLimits(t *testing.T, raw []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var blocks []any
	max := 50
	switch x := v.(type) {
	case []any:
		blocks = x
	case map[string]any:
		blocks, _ = x["blocks"].([]any)
		max = 100
		for _, k := range []string{"title", "submit", "close"} {
			if o, ok := x[k].(map[string]any); ok && units(o["text"].(string)) > 24 {
				t.Errorf("modal %s too long: %q", k, o["text"])
			}
		}
		if md, _ := x["private_metadata"].(string); len(md) > 3000 {
			t.Errorf("private_metadata %d long", len(md))
		}
	}
	if len(blocks) > max {
		t.Errorf("%d blocks, limit %d", len(blocks), max)
	}
	ids := map[string]bool{}
	text := func(o any) string {
		m, _ := o.(map[string]any)
		s, _ := m["text"].(string)
		return s
	}
	for _, b := range blocks {
		b := b.(map[string]any)
		if id, ok := b["block_id"].(string); ok {
			if ids[id] {
				t.Errorf("block_id %q twice", id)
			}
			ids[id] = true
			if len(id) > 255 {
				t.Errorf("block_id too long")
			}
		}
		switch b["type"] {
		case "header":
			if n := units(text(b["text"])); n > 150 {
				t.Errorf("header %d long", n)
			}
		case "section":
			if b["text"] != nil {
				if n := units(text(b["text"])); n > 3000 || n == 0 {
					t.Errorf("section text %d long", n)
				}
			}
			if fs, ok := b["fields"].([]any); ok {
				if len(fs) > 10 {
					t.Errorf("%d fields", len(fs))
				}
				for _, f := range fs {
					if n := units(text(f)); n > 2000 || n == 0 {
						t.Errorf("field %d long", n)
					}
				}
			}
		case "context":
			els := b["elements"].([]any)
			if len(els) > 10 || len(els) == 0 {
				t.Errorf("context with %d elements", len(els))
			}
			for _, e := range els {
				if n := units(text(e)); n > 3000 {
					t.Errorf("context text %d long", n)
				}
			}
		case "actions":
			els := b["elements"].([]any)
			if len(els) > 25 || len(els) == 0 {
				t.Errorf("actions with %d elements", len(els))
			}
			actionIDs := map[string]bool{}
			for _, e := range els {
				e := e.(map[string]any)
				id := e["action_id"].(string)
				if actionIDs[id] {
					t.Errorf("action_id %q twice in a block", id)
				}
				actionIDs[id] = true
				switch e["type"] {
				case "button":
					if n := units(text(e["text"])); n > 75 {
						t.Errorf("button text %d long", n)
					}
				case "checkboxes":
					opts := e["options"].([]any)
					if len(opts) > 10 {
						t.Errorf("%d checkbox options", len(opts))
					}
					values := map[string]bool{}
					for _, o := range opts {
						o := o.(map[string]any)
						values[o["value"].(string)] = true
						if n := units(text(o["text"])); n > 75 {
							t.Errorf("option text %d long: %q", n, text(o["text"]))
						}
						if d, ok := o["description"]; ok && units(text(d)) > 75 {
							t.Errorf("option description too long")
						}
					}
					if init, ok := e["initial_options"].([]any); ok {
						for _, o := range init {
							if !values[o.(map[string]any)["value"].(string)] {
								t.Errorf("initial option not among the options")
							}
						}
					}
				}
			}
		case "input":
			if n := units(text(b["label"])); n > 2000 || n == 0 {
				t.Errorf("input label %d long", n)
			}
			if h, ok := b["hint"]; ok && units(text(h)) > 2000 {
				t.Errorf("input hint too long")
			}
			if _, ok := b["block_id"].(string); !ok {
				t.Errorf("input without block_id")
			}
			e := b["element"].(map[string]any)
			switch e["type"] {
			case "plain_text_input":
				if n, _ := e["max_length"].(float64); n > 3000 || n == 0 {
					t.Errorf("plain_text_input max_length %v", e["max_length"])
				}
				if v, _ := e["initial_value"].(string); units(v) > 3000 {
					t.Errorf("initial value too long")
				}
			case "radio_buttons", "checkboxes", "static_select", "multi_static_select":
				opts := e["options"].([]any)
				most := 10
				if strings.HasSuffix(e["type"].(string), "static_select") {
					most = 100
				}
				if len(opts) > most || len(opts) == 0 {
					t.Errorf("%d %s options", len(opts), e["type"])
				}
				values := map[string]bool{}
				for _, o := range opts {
					o := o.(map[string]any)
					values[o["value"].(string)] = true
					if n := units(text(o["text"])); n > 75 {
						t.Errorf("option text %d long: %q", n, text(o["text"]))
					}
				}
				initial, _ := e["initial_options"].([]any)
				if io, ok := e["initial_option"]; ok {
					initial = append(initial, io)
				}
				for _, o := range initial {
					if !values[o.(map[string]any)["value"].(string)] {
						t.Errorf("initial option not among the options")
					}
				}
			case "users_select":
				if _, ok := e["options"]; ok {
					t.Errorf("users_select with options")
				}
			default:
				t.Errorf("unexpected input element %v", e["type"])
			}
		default:
			t.Errorf("unexpected block type %v", b["type"])
		}
	}
}

func TestManifest(t *testing.T) {
	for _, socket := range []bool{false, true} {
		t.Run(fmt.Sprint("socket=", socket), func(t *testing.T) {
			out, err := slack.AppManifest(slack.ManifestOptions{Command: "/kasuhara", BotName: "Mamori", URL: "https://mamori.example.com/", Socket: socket})
			if err != nil {
				t.Fatal(err)
			}
			var m struct {
				DisplayInformation struct{ Name string } `yaml:"display_information"`
				Features           struct {
					AppHome struct {
						HomeTabEnabled     bool `yaml:"home_tab_enabled"`
						MessagesTabEnabled bool `yaml:"messages_tab_enabled"`
					} `yaml:"app_home"`
					BotUser struct {
						DisplayName  string `yaml:"display_name"`
						AlwaysOnline bool   `yaml:"always_online"`
					} `yaml:"bot_user"`
					SlashCommands []struct {
						Command, URL string
					} `yaml:"slash_commands"`
					Shortcuts []struct {
						Name        string `yaml:"name"`
						Type        string `yaml:"type"`
						CallbackID  string `yaml:"callback_id"`
						Description string `yaml:"description"`
					} `yaml:"shortcuts"`
				}
				OAuthConfig struct {
					Scopes struct{ Bot []string }
				} `yaml:"oauth_config"`
				Settings struct {
					EventSubscriptions struct {
						RequestURL string   `yaml:"request_url"`
						BotEvents  []string `yaml:"bot_events"`
					} `yaml:"event_subscriptions"`
					Interactivity struct {
						IsEnabled  bool   `yaml:"is_enabled"`
						RequestURL string `yaml:"request_url"`
					}
					SocketModeEnabled bool `yaml:"socket_mode_enabled"`
				}
			}
			if err := yaml.Unmarshal([]byte(out), &m); err != nil {
				t.Fatalf("manifest is not YAML: %v\n%s", err, out)
			}
			f := m.Features
			if m.DisplayInformation.Name != "Mamori" || f.BotUser.DisplayName != "Mamori" || !f.BotUser.AlwaysOnline ||
				!f.AppHome.HomeTabEnabled || !f.AppHome.MessagesTabEnabled || len(f.SlashCommands) != 1 ||
				f.SlashCommands[0].Command != "/kasuhara" || !m.Settings.Interactivity.IsEnabled ||
				m.Settings.SocketModeEnabled != socket {
				t.Errorf("manifest:\n%s", out)
			}
			wantScopes := "chat:write commands files:read files:write im:history usergroups:read users:read users:read.email"
			if got := strings.Join(slices.Sorted(slices.Values(m.OAuthConfig.Scopes.Bot)), " "); got != wantScopes {
				t.Errorf("scopes = %s", got)
			}
			if got := strings.Join(m.Settings.EventSubscriptions.BotEvents, " "); got != "message.im app_home_opened" {
				t.Errorf("events = %s", got)
			}
			urls := []string{f.SlashCommands[0].URL, m.Settings.EventSubscriptions.RequestURL, m.Settings.Interactivity.RequestURL}
			want := []string{"https://mamori.example.com/slack/commands", "https://mamori.example.com/slack/events", "https://mamori.example.com/slack/interactivity"}
			if socket {
				want = []string{"", "", ""}
			}
			if strings.Join(urls, " ") != strings.Join(want, " ") {
				t.Errorf("urls = %v, want %v", urls, want)
			}
			// The SOS from anywhere (global) and from any message, with
			// the callback ids the adapter answers; both languages in
			// texts short enough for Slack's menus.
			var shortcuts []string
			for _, sc := range f.Shortcuts {
				shortcuts = append(shortcuts, sc.Type+" "+sc.CallbackID)
				if n := utf8.RuneCountInString(sc.Name); n == 0 || n > 24 || !strings.Contains(sc.Name, "SOS") {
					t.Errorf("shortcut %s: name %q (%d characters)", sc.CallbackID, sc.Name, n)
				}
				if n := utf8.RuneCountInString(sc.Description); n == 0 || n > 80 {
					t.Errorf("shortcut %s: description %q (%d characters)", sc.CallbackID, sc.Description, n)
				}
				if ja, en, found := strings.Cut(sc.Description, " / "); !found {
					t.Errorf("shortcut %s: description %q is not in both languages", sc.CallbackID, sc.Description)
				} else if _, isJA := hasJapanese(ja); !isJA || strings.TrimSpace(en) == "" {
					t.Errorf("shortcut %s: description %q: want Japanese, then English", sc.CallbackID, sc.Description)
				}
			}
			if got, want := strings.Join(shortcuts, ", "), "global "+slack.ShortcutSOS+", message "+slack.ShortcutSOSMessage; got != want {
				t.Errorf("shortcuts = %s, want %s", got, want)
			}
		})
	}
}

// hasJapanese reports whether s has a kana or kanji.
func hasJapanese(s string) (rune, bool) {
	for _, r := range s {
		if unicode.In(r, unicode.Hiragana, unicode.Katakana, unicode.Han) {
			return r, true
		}
	}
	return 0, false
}

// goldenCards are real case cards from the flows, as a supervisor channel
// sees them: new and decided, in both languages.
func goldenCards(t *testing.T) map[string]mamori.Message {
	p, err := mamori.Preset("seed-004")
	if err != nil {
		t.Fatal(err)
	}
	org := &mamori.Org{HRChannel: "C0HR", Departments: []mamori.Department{{ID: "store",
		Name: mamori.Text{JA: "店舗運営部", EN: "Store operations"}, SupervisorChannel: "C0STORE", Supervisors: []string{"U0SATO"}}}}
	at := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	env := flows.Env{Policy: p, Org: org, Now: at}
	k := mamori.Case{Number: "KH-2026-0042", Kind: mamori.KindReport, Reporter: mamori.User{Platform: "slack", ID: "U0TANAKA"},
		Department: "store", Route: mamori.RouteDepartment, Channel: "C0STORE", Status: mamori.StatusNew,
		Urgency: mamori.UrgencyUrgent, Suggestion: mamori.SuggestKasuhara, Crime: true,
		Behaviours: []string{"physical_attack", "compensation"}, Created: at,
		Answers: mamori.Answers{Channel: "in_person", Narrative: "秘密", Customer: "秘密"}}
	judged := k
	judged.Status, judged.Assignee = mamori.StatusJudged, "slack:U0SATO"
	judged.Decision = &mamori.Decision{Validity: "invalid", Means: "unacceptable", Outcome: mamori.OutcomeKasuhara,
		Actions: []string{"warn", "police"}, Facts: "秘密", By: "slack:U0SATO", At: at}
	tokyo := time.FixedZone("JST", 9*3600)
	cards := map[string]mamori.Message{}
	for _, l := range []mamori.Lang{mamori.JA, mamori.EN} {
		cards["case_card_new_"+string(l)] = flows.Card(env, k, l, tokyo)
		cards["case_card_judged_"+string(l)] = flows.Card(env, judged, l, tokyo)
	}
	for name, m := range cards {
		if b, _ := json.Marshal(slack.Blocks(m)); bytes.Contains(b, []byte("秘密")) {
			t.Errorf("%s shows confidential text", name)
		}
	}
	return cards
}
