package phone

import (
	"context"
	"net/http"
	"time"
)

// Sent returns the ids of the SMS from from to to with body the phone
// received at since or later, oldest first. With Send, it implements
// sleuth.SMSSender.
func (s *Simulator) Sent(_ context.Context, from, to, body string, since time.Time) ([]string, error) {
	var sids []string
	for _, e := range s.Thread(0) {
		if e.Kind == "received" && e.From == from && e.To == to && e.Body == body && !e.Time.Before(since) {
			sids = append(sids, e.MessageSid)
		}
	}
	return sids, nil
}

// handleListMessages is the read side of Twilio's Messages API (GET
// Messages.json, filtered by To and From, newest first, one page): what a
// responder reads to find out whether an attempt it lost track of sent its
// SMS.
func (s *Simulator) handleListMessages(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	to, from := r.URL.Query().Get("To"), r.URL.Query().Get("From")
	msgs := []map[string]any{}
	entries := s.Thread(0)
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.Kind != "received" || (to != "" && e.To != to) || (from != "" && e.From != from) {
			continue
		}
		created := e.Time.UTC().Format(time.RFC1123Z)
		msgs = append(msgs, map[string]any{
			"sid": e.MessageSid, "account_sid": s.cfg.AccountSID, "from": e.From, "to": e.To, "body": e.Body,
			"status": "delivered", "direction": "outbound-api", "date_created": created, "date_updated": created,
			"date_sent": created,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"messages": msgs, "page": 0, "page_size": len(msgs), "start": 0, "end": max(len(msgs)-1, 0),
		"uri": r.URL.RequestURI(), "first_page_uri": r.URL.RequestURI(), "next_page_uri": nil, "previous_page_uri": nil,
	})
}
