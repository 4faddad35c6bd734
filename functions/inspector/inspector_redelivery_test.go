package inspector

import (
	"bytes"
	"context"
	"encoding/json"
	_ "image/jpeg"
	"net/http"
	"strings"
	"testing"

	"cloud.google.com/go/vision/v2/apiv1/visionpb"

	"github.com/crossfaas/crossfaas/functions/labeler/labelertest"
	"github.com/crossfaas/crossfaas/internal/leakcheck"
	"github.com/crossfaas/crossfaas/internal/s3fake"
)

// TestSameEventThreeTimes: S3 delivers at least once; three deliveries of
// one event label once, write one sidecar, move once.
func TestSameEventThreeTimes(t *testing.T) {
	leakcheck.Check(t)
	w := newWorld(t)
	ss := labelertest.Likelihoods(visionpb.Likelihood_UNLIKELY)
	ss.Violence = visionpb.Likelihood_LIKELY
	w.vision.SetSafeSearch(ss)
	h := w.handler(t, Config{})
	ev := w.upload(t, "fight.jpg", testJPEG(t, 64, 64))
	for i := range 3 {
		if err := h.Handle(context.Background(), ev); err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
	}
	r := w.result(t, "fight.jpg")
	record := "results/fight.jpg.json.versions/" + strings.TrimPrefix(strings.TrimSuffix(r.QuarantineKey, "/fight.jpg"), QuarantinePrefix)
	for op, want := range map[string]int{"CopyObject " + r.QuarantineKey: 1, "DeleteObject incoming/fight.jpg": 1, "PutObject results/fight.jpg.json": 1, "PutObject " + record: 3} {
		opName, key, _ := strings.Cut(op, " ")
		if got := w.s3.Count(opName, key); got != want {
			t.Errorf("%s: %d calls, want %d (the record: acting, copied, done; the sidecar once)", op, got, want)
		}
	}
	if n := w.labelerCalls.Load(); n != 1 {
		t.Errorf("the labeler was called %d times, want 1", n)
	}
	if r.State != StateDone || r.Verdict != VerdictUnsafe {
		t.Errorf("sidecar = %+v", r)
	}

	// A safe image stays where it is: only the sidecar tells the later
	// deliveries it is done.
	w.vision.SetSafeSearch(labelertest.Likelihoods(visionpb.Likelihood_VERY_UNLIKELY))
	ev = w.upload(t, "calm.jpg", testJPEG(t, 64, 64))
	for i := range 3 {
		if err := h.Handle(context.Background(), ev); err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
	}
	if n := w.labelerCalls.Load(); n != 2 {
		t.Errorf("the labeler was called %d times in all, want 2 (once per image)", n)
	}
	if n := w.s3.Count("PutObject", "results/calm.jpg.json"); n != 1 {
		t.Errorf("the safe image's sidecar was written %d times, want 1", n)
	}
	if n := w.s3.Count("PutObjectTagging", "incoming/calm.jpg"); n != 1 {
		t.Errorf("the safe image was tagged %d times, want 1", n)
	}
}

// TestCrashBetweenCopyAndDelete: the delete fails (every attempt of the
// SDK); the invocation fails with the original still in incoming/ and its
// copy in quarantine/; the next delivery deletes it without asking the
// labeler again.
func TestCrashBetweenCopyAndDelete(t *testing.T) {
	leakcheck.Check(t)
	w := newWorld(t)
	w.vision.SetSafeSearch(labelertest.Likelihoods(visionpb.Likelihood_VERY_LIKELY))
	h := w.handler(t, Config{})
	img := testJPEG(t, 64, 64)
	ev := w.upload(t, "x.jpg", img)
	w.s3.Intercept(func(rw http.ResponseWriter, r *http.Request, c s3fake.Call) bool {
		if c.Op == "DeleteObject" && c.Key == "incoming/x.jpg" {
			s3fake.WriteError(rw, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.", c.Key)
			return true
		}
		return false
	})
	if err := h.Handle(context.Background(), ev); err == nil {
		t.Fatal("the delivery whose delete failed succeeded")
	}
	if w.object(t, "results/x.jpg.json") != nil {
		t.Error("a sidecar was written before the move was done")
	}
	records := w.keys(t, "results/x.jpg.json.versions/")
	if len(records) != 1 {
		t.Fatalf("records = %q, want one", records)
	}
	var r Result
	if err := json.Unmarshal(w.object(t, records[0]), &r); err != nil || r.State != StateActing || !r.QuarantineCopied {
		t.Fatalf("record after the failure = %+v (%v), want acting, copied", r, err)
	}
	if !bytes.Equal(w.object(t, "incoming/x.jpg"), img) || !bytes.Equal(w.object(t, r.QuarantineKey), img) {
		t.Fatal("after the failed delete, the original must be in incoming/ and its copy in quarantine/")
	}
	w.s3.Intercept(nil)
	if err := h.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if w.object(t, "incoming/x.jpg") != nil || !bytes.Equal(w.object(t, r.QuarantineKey), img) {
		t.Error("the next delivery did not complete the move")
	}
	if r := w.result(t, "x.jpg"); r.State != StateDone {
		t.Errorf("sidecar = %+v, want done", r)
	}
	if n := w.labelerCalls.Load(); n != 1 {
		t.Errorf("the labeler was called %d times, want 1", n)
	}

	// A crash after the delete, before the record says done: the next
	// delivery finds the original gone, its copy recorded, and finishes.
	ev = w.upload(t, "y.jpg", img)
	w.s3.Intercept(func(rw http.ResponseWriter, r *http.Request, c s3fake.Call) bool {
		if c.Op == "PutObject" && strings.HasPrefix(c.Key, "results/y.jpg.json") && w.s3.Count("DeleteObject", "incoming/y.jpg") > 0 {
			s3fake.WriteError(rw, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.", c.Key)
			return true
		}
		return false
	})
	if err := h.Handle(context.Background(), ev); err == nil {
		t.Fatal("the delivery whose last sidecar write failed succeeded")
	}
	w.s3.Intercept(nil)
	if err := h.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if r := w.result(t, "y.jpg"); r.State != StateDone || !bytes.Equal(w.object(t, r.QuarantineKey), img) || w.object(t, "incoming/y.jpg") != nil {
		t.Errorf("sidecar = %+v", r)
	}
}

// TestNewerUploadIsNotTouched: the move of one version leaves a newer
// upload under the same key alone.
func TestNewerUploadIsNotTouched(t *testing.T) {
	w := newWorld(t)
	w.vision.SetSafeSearch(labelertest.Likelihoods(visionpb.Likelihood_VERY_LIKELY))
	h := w.handler(t, Config{})
	first, second := testJPEG(t, 64, 64), testJPEG(t, 80, 80)
	ev := w.upload(t, "same.jpg", first)
	w.upload(t, "same.jpg", second)
	if err := h.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.object(t, w.result(t, "same.jpg").QuarantineKey), first) || !bytes.Equal(w.object(t, "incoming/same.jpg"), second) {
		t.Error("the first version must be quarantined and the second stay in incoming/")
	}
}
