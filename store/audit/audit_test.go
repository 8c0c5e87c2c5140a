package audit_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mamori-oss/mamori/store/audit"
	"github.com/mamori-oss/mamori/store/seal"
)

func mustKey(tb testing.TB, b byte) []byte {
	tb.Helper()
	s, err := seal.New(bytes.Repeat([]byte{b}, seal.KeySize))
	if err != nil {
		tb.Fatal(err)
	}
	return audit.Key(s)
}

func TestMAC(t *testing.T) {
	r := audit.Row{ID: 1, At: 1700000000000, Actor: "slack:U1", Action: "report.submitted", Subject: "KH-2026-0001", Detail: "route=department"}
	k, k2 := mustKey(t, 0x42), mustKey(t, 0x43)
	if !bytes.Equal(k, mustKey(t, 0x42)) || bytes.Equal(k, k2) || len(k) != 32 {
		t.Fatalf("Key: %x and %x", k, k2)
	}
	if bytes.Equal(k, bytes.Repeat([]byte{0x42}, 32)) {
		t.Fatal("Key is the encryption key itself")
	}
	mac := r.MAC(k)
	if !audit.IsKeyed(mac) || audit.IsKeyed(r.Hash()) || len(mac) != 3+64 {
		t.Errorf("MAC = %q, Hash = %q", mac, r.Hash())
	}
	if mac != r.MAC(k) || mac == r.MAC(k2) || strings.HasSuffix(mac, r.Hash()) {
		t.Errorf("MAC is not a keyed function of the row")
	}
	// Every field counts, and fields cannot trade bytes.
	for name, r2 := range map[string]audit.Row{
		"id":      {ID: 2, At: r.At, Actor: r.Actor, Action: r.Action, Subject: r.Subject, Detail: r.Detail},
		"at":      {ID: 1, At: r.At + 1, Actor: r.Actor, Action: r.Action, Subject: r.Subject, Detail: r.Detail},
		"actor":   {ID: 1, At: r.At, Actor: "slack:U2", Action: r.Action, Subject: r.Subject, Detail: r.Detail},
		"shifted": {ID: 1, At: r.At, Actor: r.Actor + "r", Action: "eport.submitted", Subject: r.Subject, Detail: r.Detail},
		"detail":  {ID: 1, At: r.At, Actor: r.Actor, Action: r.Action, Subject: r.Subject, Detail: ""},
		"prev":    {ID: 1, At: r.At, Actor: r.Actor, Action: r.Action, Subject: r.Subject, Detail: r.Detail, Prev: "x"},
	} {
		if r2.MAC(k) == mac {
			t.Errorf("%s: same MAC", name)
		}
	}
}

func TestCheckpoint(t *testing.T) {
	h := "k1:" + strings.Repeat("0123456789abcdef", 4)
	c := audit.Checkpoint{Seq: 42, Hash: h}
	s := c.String()
	if want := "mamori-audit:v1:42:" + strings.Repeat("0123456789abcdef", 4); s != want {
		t.Fatalf("String = %q, want %q", s, want)
	}
	for _, in := range []string{s, " " + s + "\n", "mamori-audit:v1:42:" + strings.ToUpper(s[len("mamori-audit:v1:42:"):])} {
		got, err := audit.ParseCheckpoint(in)
		if err != nil || got != c {
			t.Errorf("ParseCheckpoint(%q) = %+v, %v; want %+v", in, got, err, c)
		}
	}
	empty := audit.Checkpoint{}
	if got, err := audit.ParseCheckpoint(empty.String()); err != nil || got != empty {
		t.Errorf("the empty trail's checkpoint %q parses as %+v, %v", empty, got, err)
	}
	for _, bad := range []string{
		"",
		"mamori-audit:v1:42",
		"mamori-audit:v2:42:" + strings.Repeat("ab", 32),
		"mamori-audit:v1:-1:" + strings.Repeat("ab", 32),
		"mamori-audit:v1:42:" + strings.Repeat("ab", 31),
		"mamori-audit:v1:42:" + strings.Repeat("ab", 33),
		"mamori-audit:v1:42:" + strings.Repeat("zz", 32),
		"mamori-audit:v1:99999999999999999999:" + strings.Repeat("ab", 32),
		"x mamori-audit:v1:42:" + strings.Repeat("ab", 32),
	} {
		if got, err := audit.ParseCheckpoint(bad); err == nil {
			t.Errorf("ParseCheckpoint(%q) = %+v; want an error", bad, got)
		}
	}
}

func TestFindCheckpoints(t *testing.T) {
	a := audit.Checkpoint{Seq: 7, Hash: "k1:" + strings.Repeat("ab", 32)}
	b := audit.Checkpoint{Seq: 9, Hash: "k1:" + strings.Repeat("cd", 32)}
	text := "# kept by ops\n" + a.String() + "\n\n監査証跡のチェックポイント\nチェックポイント: " + b.String() + " (posted by Mamori)\nmamori-audit:v1:3:short\n"
	if diff := cmp.Diff([]audit.Checkpoint{a, b}, audit.FindCheckpoints(text)); diff != "" {
		t.Errorf("FindCheckpoints (-want +got):\n%s", diff)
	}
	if got := audit.FindCheckpoints("nothing here"); got != nil {
		t.Errorf("FindCheckpoints = %v", got)
	}
}

func TestSubmissionAction(t *testing.T) {
	for kind, want := range map[string]string{"report": "report.submitted", "consult": "consult.submitted", "sos": "sos.alerted"} {
		if got := audit.SubmissionAction(kind); got != want {
			t.Errorf("SubmissionAction(%q) = %q, want %q", kind, got, want)
		}
	}
}
