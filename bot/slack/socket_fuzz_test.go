package slack

import (
	"context"
	"encoding/json"
	"net/http"
)

// SocketFrame hands one Socket Mode message to the adapter as a
// connection's reader does (socketRun.read, dispatch and envelope, less
// the WebSocket), for FuzzSlackSocket: a per-message WebSocket would make
// each run slow, and an envelope that is not acknowledged could only be
// told by waiting. It reports whether the message was an envelope the
// adapter handles, the status it was answered with, and the
// acknowledgement sent (nil when none is).
func (a *Adapter) SocketFrame(ctx context.Context, data []byte) (handled bool, status int, ack []byte) {
	var f socketFrame
	if json.Unmarshal(data, &f) != nil {
		return false, 0, nil
	}
	switch f.Type {
	case "events_api", "interactive", "slash_commands":
	default:
		return false, 0, nil
	}
	if f.EnvelopeID == "" {
		return false, 0, nil
	}
	var res reply
	switch f.Type {
	case "events_api":
		res = a.events(ctx, f.Payload, true)
	case "interactive":
		res = a.interaction(ctx, f.Payload)
	case "slash_commands":
		res = a.socketCommand(ctx, f.Payload)
	}
	if res.status == http.StatusOK || res.status == http.StatusBadRequest {
		var err error
		if ack, err = json.Marshal(socketAck{EnvelopeID: f.EnvelopeID, Payload: res.body}); err != nil || len(ack) >= maxAck {
			ack, _ = json.Marshal(socketAck{EnvelopeID: f.EnvelopeID})
		}
	}
	a.later(f.Type, res.after)
	return true, res.status, ack
}
