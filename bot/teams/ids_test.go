package teams_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/bot/teams/teamstest"
)

// An authenticated activity whose ids are not the Bot Framework's — not
// UTF-8 (read as U+FFFD), with spaces or control characters, an Entra id
// outside a GUID's alphabet, absurdly long — is refused with 400, and
// nothing reaches the flows or the stored references.
func TestMalformedIDsRefused(t *testing.T) {
	r := newRig(t)
	message := func(change func(act map[string]any)) map[string]any {
		act := r.fake.Message(tanaka, "報告")
		change(act)
		return act
	}
	from := func(id, aad string) func(map[string]any) {
		return func(act map[string]any) {
			act["from"] = map[string]any{"id": id, "name": tanaka.Name, "aadObjectId": aad}
		}
	}
	conversation := func(id, tenant string) func(map[string]any) {
		return func(act map[string]any) {
			act["conversation"] = map[string]any{"id": id, "conversationType": "personal", "tenantId": tenant}
		}
	}
	personal := teamstest.PersonalConv(tanaka.ID)
	for _, tt := range []struct {
		name  string
		act   map[string]any
		field string
	}{
		{"Entra id not UTF-8", message(from(tanaka.ID, "aad-\xfftanaka")), "from.aadObjectId"},
		{"Entra id with a space", message(from(tanaka.ID, "e8a27e1c 3f6a")), "from.aadObjectId"},
		{"Entra id of an email", message(from(tanaka.ID, "tanaka@example.co.jp")), "from.aadObjectId"},
		{"Teams id with a control character", message(from("29:tanaka\u0007", "aad-tanaka")), "from.id"},
		{"Teams id of U+FFFD", message(from("29:\ufffd", "")), "from.id"},
		{"conversation id with a line break", message(conversation(personal+"\n", teamstest.Tenant)), "conversation.id"},
		{"conversation id too long", message(conversation("a:1"+strings.Repeat("x", 600), teamstest.Tenant)), "conversation.id"},
		{"tenant not a GUID", message(conversation(personal, "../tenant")), "conversation.tenantId"},
		{"team id with a space", message(func(act map[string]any) {
			act["channelData"] = map[string]any{"tenant": map[string]any{"id": teamstest.Tenant}, "team": map[string]any{"id": "19:a b@thread.tacv2"}}
		}), "channelData.team.id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.act)
			if err != nil {
				t.Fatal(err)
			}
			req, err := http.NewRequest(http.MethodPost, r.url, bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+r.fake.Token())
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), tt.field+" is not a Teams id") {
				t.Errorf("status %d %q, want 400 naming %s", res.StatusCode, body, tt.field)
			}
		})
	}
	items, err := r.db.ListOutbox(context.Background(), mamori.OutboxPending, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 0 {
		t.Errorf("the flows acted on activities with malformed ids: %+v", items)
	}
	err = r.db.View(context.Background(), func(tx mamori.Tx) error {
		_, err := tx.Reference("teams:service")
		return err
	})
	if !errors.Is(err, mamori.ErrNotFound) {
		t.Errorf("a reference was stored from an activity with malformed ids (%v)", err)
	}

	// A GUID, as Entra gives it, is taken.
	ok := message(from(tanaka.ID, "e8a27e1c-3f6a-4b9f-9b1e-4f3c5c2b7d10"))
	if code, body := r.post(t, ok); code != http.StatusOK {
		t.Errorf("an Entra GUID: %d %v", code, body)
	}
}
