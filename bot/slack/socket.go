package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/slack-go/slack/socketmode"
)

// maxEnvelopes bounds the Socket Mode envelopes handled at once.
const maxEnvelopes = 32

// RunSocketMode receives Slack's requests over a Socket Mode connection
// (Config.AppToken) until ctx ends. Each envelope goes through the same
// translation as an HTTP request and is acknowledged only when that
// succeeded; Slack redelivers the rest.
func (a *Adapter) RunSocketMode(ctx context.Context) error {
	if a.cfg.AppToken == "" {
		return errors.New("slack: socket mode needs an app token")
	}
	sm := socketmode.New(a.api, socketmode.OptionLog(slogOutput{a.log}))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sm.RunContext(ctx) }()

	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, maxEnvelopes)
	for {
		select {
		case err := <-done:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("slack: socket mode: %w", err)
		case evt := <-sm.Events:
			switch evt.Type {
			case socketmode.EventTypeConnected:
				a.log.Info("slack: socket mode connected")
			case socketmode.EventTypeConnectionError, socketmode.EventTypeIncomingError,
				socketmode.EventTypeErrorBadMessage, socketmode.EventTypeErrorWriteFailed:
				if ctx.Err() == nil {
					// Only the cause: a bad message's data holds the raw
					// envelope, which can be what someone typed.
					a.log.Warn("slack: socket mode trouble", "type", evt.Type, "err", socketCause(evt.Data))
				}
			case socketmode.EventTypeInvalidAuth:
				a.log.Error("slack: socket mode: invalid app token")
			case socketmode.EventTypeEventsAPI, socketmode.EventTypeInteractive, socketmode.EventTypeSlashCommand:
				if evt.Request == nil {
					continue
				}
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return ctx.Err()
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-slots }()
					a.envelope(ctx, sm, evt)
				}()
			}
		}
	}
}

// envelope translates one Socket Mode request and acknowledges it.
func (a *Adapter) envelope(ctx context.Context, sm *socketmode.Client, evt socketmode.Event) {
	defer func() {
		if p := recover(); p != nil {
			a.log.Error("slack: panic in socket mode envelope", "type", evt.Type, "panic", fmt.Sprint(p))
		}
	}()
	req := evt.Request
	var res reply
	switch evt.Type {
	case socketmode.EventTypeEventsAPI:
		res = a.events(ctx, req.Payload, true)
	case socketmode.EventTypeInteractive:
		res = a.interaction(ctx, req.Payload)
	case socketmode.EventTypeSlashCommand:
		res = a.socketCommand(ctx, req.Payload)
	}
	if res.status == http.StatusOK || res.status == http.StatusBadRequest {
		// A malformed envelope would only come again: acknowledge it.
		if err := sm.AckCtx(ctx, req.EnvelopeID, res.body); err != nil {
			a.log.Error("slack: socket mode ack failed", "err", err)
		}
	} else {
		a.log.Warn("slack: socket mode envelope left for redelivery", "type", evt.Type, "status", res.status)
	}
	a.later(string(evt.Type), res.after)
}

func (a *Adapter) socketCommand(ctx context.Context, payload []byte) reply {
	var c slashCommand
	if err := json.Unmarshal(payload, &c); err != nil {
		return bad("malformed slash command")
	}
	return a.command(ctx, c)
}

// slogOutput carries the socketmode client's own log lines to slog.
type slogOutput struct{ log *slog.Logger }

func (o slogOutput) Output(_ int, s string) error {
	o.log.Debug("slack: socketmode: " + strings.TrimSpace(s))
	return nil
}

// socketCause returns the error in a Socket Mode trouble event's data,
// without the payload it may carry.
func socketCause(data any) string {
	switch d := data.(type) {
	case *socketmode.ErrorBadMessage:
		return fmt.Sprint(d.Cause)
	case *socketmode.ErrorWriteFailed:
		return fmt.Sprint(d.Cause)
	case error:
		return d.Error()
	}
	return fmt.Sprintf("%T", data)
}
