package worker_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

func reply(step, body string) sleuth.Reply {
	return sleuth.Reply{MessageSid: "MM0123", Step: step, From: botNumber, To: user, Body: body}
}

func TestRespond(t *testing.T) {
	tests := []struct {
		name       string
		failSMS    []int          // Twilio's answers before it accepts
		deliveries []sleuth.Reply // delivered in order
		wantErrs   []bool         // per delivery: an error for a retry?
		wantSMS    [][3]string    // From, To, Body
	}{
		{
			name:       "sends from the bot to the user",
			deliveries: []sleuth.Reply{reply("addcol", "Collection celebs was created.")},
			wantErrs:   []bool{false},
			wantSMS:    [][3]string{{botNumber, user, "Collection celebs was created."}},
		},
		{
			name:       "same reply twice sends once",
			deliveries: []sleuth.Reply{reply("match", "Face matched"), reply("match", "Face matched")},
			wantErrs:   []bool{false, false},
			wantSMS:    [][3]string{{botNumber, user, "Face matched"}},
		},
		{
			name:       "replies of different steps are both sent",
			deliveries: []sleuth.Reply{reply("addimg", "Picture added"), reply("failure", "Sorry")},
			wantErrs:   []bool{false, false},
			wantSMS:    [][3]string{{botNumber, user, "Picture added"}, {botNumber, user, "Sorry"}},
		},
		{
			name:       "Twilio down: retried, then sent once",
			failSMS:    []int{http.StatusInternalServerError},
			deliveries: []sleuth.Reply{reply("addcol", "Created"), reply("addcol", "Created"), reply("addcol", "Created")},
			wantErrs:   []bool{true, false, false},
			wantSMS:    [][3]string{{botNumber, user, "Created"}},
		},
		{
			name:       "rate limited: retried",
			failSMS:    []int{http.StatusTooManyRequests},
			deliveries: []sleuth.Reply{reply("addcol", "Created"), reply("addcol", "Created")},
			wantErrs:   []bool{true, false},
			wantSMS:    [][3]string{{botNumber, user, "Created"}},
		},
		{
			name:       "rejected for good: not retried",
			failSMS:    []int{http.StatusBadRequest},
			deliveries: []sleuth.Reply{reply("addcol", "Created"), reply("addcol", "Created")},
			wantErrs:   []bool{false, false},
			wantSMS:    nil,
		},
		{
			name:       "incomplete reply is dropped",
			deliveries: []sleuth.Reply{{MessageSid: "MM0123", Step: "addcol", From: botNumber, To: user}},
			wantErrs:   []bool{false},
			wantSMS:    nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.twilio.failSMS(tt.failSMS...)
			for i, r := range tt.deliveries {
				err := h.responder.HandleSNS(context.Background(), snsEvent(t, responsesTopic, r))
				if (err != nil) != tt.wantErrs[i] {
					t.Errorf("delivery #%d of %+v: error = %v, want error %v", i+1, r, err, tt.wantErrs[i])
				}
			}
			if got := h.twilio.sent(); !equalSMS(got, tt.wantSMS) {
				t.Errorf("SMS sent = %q, want %q", got, tt.wantSMS)
			}
		})
	}
}

func equalSMS(a, b [][3]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
