package dev

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/internal/dev/phone"
)

// BenchmarkFaceMatchRoundTrip measures an offline "face match" from the
// signed webhook leaving the phone simulator to the reply SMS arriving in
// its thread: gateway, request handler, topic, match handler (media fetch,
// face search, biography from a local fake Wikipedia), responses topic,
// respond handler, Messages API. It reports the median and the 95th
// percentile in milliseconds.
func BenchmarkFaceMatchRoundTrip(b *testing.B) {
	sys := start(b, nil)
	p := loadPhotos(b)
	ctx := context.Background()
	for _, m := range []struct {
		body  string
		photo []byte
	}{{"face addcol bench", nil}, {"face addimg bench sample_person", p.person}} {
		var photo *phone.Photo
		if m.photo != nil {
			photo = &phone.Photo{ContentType: "image/jpeg", Data: m.photo}
		}
		res, err := sys.Phone.SendMessage(ctx, m.body, photo)
		if err != nil || res.Error != "" {
			b.Fatalf("%s: %v %s", m.body, err, res.Error)
		}
		awaitReply(b, sys, res.MessageSid)
	}

	photo := &phone.Photo{ContentType: "image/jpeg", Data: p.personVariant}
	var took []time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		res, err := sys.Phone.SendMessage(ctx, "face match bench", photo)
		if err != nil || res.Error != "" {
			b.Fatalf("face match: %v %s", err, res.Error)
		}
		reply := awaitReply(b, sys, res.MessageSid)
		took = append(took, time.Since(start))
		if !strings.HasPrefix(reply, "Face matched Sample Person") {
			b.Fatalf("reply = %q, want a match", reply)
		}
	}
	b.StopTimer()
	slices.Sort(took)
	ms := func(q float64) float64 {
		return float64(took[min(len(took)-1, int(q*float64(len(took))))].Microseconds()) / 1000
	}
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.95), "p95-ms")
}
