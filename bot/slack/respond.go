package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/mamori-oss/mamori"
)

// A click's response_url answers it where it was made
// (https://docs.slack.dev/interactivity/handling-user-interaction): up to
// five times within 30 minutes of the click. It is not chat.postMessage,
// so the one-message-a-second pace of a DM does not hold back the next
// question after a click. The adapter uses it once, to mark the clicked
// question answered in place (replace_original); the Sender may use the
// rest for the click's replies. It gives no ts, so a message that is
// updated in place later (with a Ref) is posted with chat.postMessage.
const (
	respondUses = 4                // the Sender's share of the five: one is the mark's
	respondLife = 25 * time.Minute // of the 30, leaving room for clocks and queues
	// maxResponseURLs bounds the memory of response_urls used; past it,
	// those older than their life are forgotten.
	maxResponseURLs = 4096
)

// responseURLOK reports whether u may be a response_url: https on
// Slack's hooks host (GovSlack's too) or, when the Web API is elsewhere
// (apiURL: a proxy, a test's fake), on that host alone. The payload that
// brought u was verified; this keeps a response, which may carry a
// question's text, from ever going anywhere else.
func responseURLOK(u, apiURL string) bool {
	ru, err := neturl.Parse(u)
	if err != nil || ru.User != nil {
		return false
	}
	if apiURL != "" {
		au, err := neturl.Parse(apiURL)
		return err == nil && au.Host != "" && ru.Scheme == au.Scheme && ru.Host == au.Host
	}
	return ru.Scheme == "https" && (ru.Host == "hooks.slack.com" || ru.Host == "hooks.slack-gov.com")
}

// responseUse is what the Sender knows of one response_url.
type responseUse struct {
	uses  int
	dead  bool // refused or failed once: not tried again
	first time.Time
}

// mayRespond reports whether item may go through its response_url and
// takes one of the url's uses if so.
func (s *Sender) mayRespond(item mamori.OutboxItem, prev *mamori.Posted) bool {
	m := item.Message
	if m.Respond == "" || !responseURLOK(m.Respond, s.apiURL) || m.Ref != "" || prev != nil || m.Image != nil || item.InThread != nil ||
		item.Target.Kind != mamori.TargetUser || item.Target.Thread != "" {
		return false
	}
	now := time.Now()
	if age := now.Sub(item.Created); age > respondLife || age < -time.Minute {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.responses[m.Respond]
	if u == nil {
		if len(s.responses) >= maxResponseURLs {
			for k, v := range s.responses {
				if now.Sub(v.first) > respondLife {
					delete(s.responses, k)
				}
			}
		}
		u = &responseUse{first: now}
		s.responses[m.Respond] = u
	}
	if u.dead || u.uses >= respondUses {
		return false
	}
	u.uses++
	return true
}

// responseFailed marks url as not to be tried again.
func (s *Sender) responseFailed(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.responses[url]; u != nil {
		u.dead = true
	}
}

// responseMessage is a response_url request.
type responseMessage struct {
	Text            string          `json:"text"`
	Blocks          slackapi.Blocks `json:"blocks"`
	ResponseType    string          `json:"response_type,omitempty"`
	ReplaceOriginal bool            `json:"replace_original"`
}

// respond posts msg to a response_url. Slack answers 200 with "ok" or
// {"ok":true}; anything else is a failure (used_url, expired_url, 404).
// The error never names the url: it is a credential of sorts.
func respond(ctx context.Context, url string, msg responseMessage) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("slack response_url: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("slack response_url: bad url")
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := apiClient.Do(req)
	if err != nil {
		return fmt.Errorf("slack response_url: %w", unwrapURL(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var res struct {
		OK    *bool  `json:"ok"`
		Error string `json:"error"`
	}
	if resp.StatusCode/100 != 2 {
		_ = json.Unmarshal(body, &res)
		return fmt.Errorf("slack response_url: HTTP %d %s", resp.StatusCode, firstNonEmpty(res.Error, strings.TrimSpace(string(body))))
	}
	if json.Unmarshal(body, &res) == nil && res.OK != nil && !*res.OK {
		return fmt.Errorf("slack response_url: %s", res.Error)
	}
	return nil
}

// unwrapURL drops the url from a transport error.
func unwrapURL(err error) error {
	var ue *neturl.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
