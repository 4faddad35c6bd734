package worker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/internal/awsfake"
)

// A failure before the side effect releases the step for the retry; a
// failure after it keeps the step done, so the retry only publishes.
func TestRetries(t *testing.T) {
	ctx := context.Background()

	// A 5xx leaves it unknown whether the face was indexed: the SDK must
	// not send IndexFaces again; the retry looks the face up first.
	t.Run("rekognition fails", func(t *testing.T) {
		h := newHarness(t)
		h.cloud.Rekognition.AddCollection(celebs)
		h.cloud.Rekognition.Inject("IndexFaces", "InternalServerError")
		j := addimg("mel", "image/jpeg")(h)
		if err := h.worker.Process(ctx, j); err == nil {
			t.Fatal("Process with Rekognition failing: error = nil, want one for a retry")
		}
		if n := h.cloud.Rekognition.Calls("IndexFaces"); n != 1 {
			t.Errorf("IndexFaces calls after a 500 = %d, want 1 (no SDK re-send)", n)
		}
		if n := len(h.replies(t)); n != 0 {
			t.Errorf("published %d replies after a failure, want 0", n)
		}
		if err := h.worker.Process(ctx, j); err != nil {
			t.Fatalf("retry error = %v", err)
		}
		if n := h.cloud.Rekognition.Calls("ListFaces"); n != 1 {
			t.Errorf("ListFaces calls = %d, want 1: the retry reconciles", n)
		}
		if faces, _ := h.cloud.Rekognition.Faces(celebs); len(faces) != 1 {
			t.Errorf("collection holds %d faces, want 1", len(faces))
		}
		if got := h.replies(t); len(got) != 1 || got[0].Body != "Picture of Mel Gibson added to collection celebs." {
			t.Errorf("replies = %+v, want the success", got)
		}
	})

	// Throttling says the call did nothing: the SDK may send it again.
	t.Run("rekognition throttled once", func(t *testing.T) {
		h := newHarness(t)
		h.cloud.Rekognition.AddCollection(celebs)
		h.cloud.Rekognition.Inject("IndexFaces", "ThrottlingException")
		if err := h.worker.Process(ctx, addimg("mel", "image/jpeg")(h)); err != nil {
			t.Fatalf("Process with one throttle: error = %v, want the SDK's retry to pass", err)
		}
		if faces, _ := h.cloud.Rekognition.Faces(celebs); len(faces) != 1 {
			t.Errorf("collection holds %d faces, want 1", len(faces))
		}
	})

	t.Run("media unavailable", func(t *testing.T) {
		h := newHarness(t)
		h.cloud.Rekognition.AddFace(celebs, "mel_gibson", "mel")
		j := match("unavailable")(h)
		if err := h.worker.Process(ctx, j); err == nil || errors.Is(err, sleuth.ErrMediaRefused) {
			t.Fatalf("Process with media 503: error = %v, want a failure", err)
		}
		if n := len(h.replies(t)); n != 0 {
			t.Errorf("published %d replies, want 0", n)
		}
		if item, _ := h.cloud.DynamoDB.Get(table, "MM0123#match"); item["leaseUntilMs"].String() != "0" {
			t.Errorf("claim %v not released after the failure", item)
		}
	})

	t.Run("publish fails after indexing", func(t *testing.T) {
		h := newHarness(t)
		h.cloud.Rekognition.AddCollection(celebs)
		h.cloud.SNS.Inject("Publish", "InternalError")
		j := addimg("mel", "image/jpeg")(h)
		if err := h.worker.Process(ctx, j); err == nil {
			t.Fatal("Process with SNS down: error = nil, want one for a retry")
		}
		if err := h.worker.Process(ctx, j); err != nil {
			t.Fatalf("retry error = %v", err)
		}
		if n := h.cloud.Rekognition.Calls("IndexFaces"); n != 1 {
			t.Errorf("IndexFaces calls = %d, want 1", n)
		}
		if got := h.replies(t); len(got) != 1 || got[0].Body != "Picture of Mel Gibson added to collection celebs." {
			t.Errorf("replies = %+v, want the success once", got)
		}
	})

	t.Run("publish fails after a match", func(t *testing.T) {
		h := newHarness(t)
		h.cloud.Rekognition.AddFace(celebs, "mel_gibson", "mel")
		h.cloud.SNS.Inject("Publish", "InternalError")
		j := match("mel")(h)
		if err := h.worker.Process(ctx, j); err == nil {
			t.Fatal("Process with SNS down: error = nil, want one for a retry")
		}
		if err := h.worker.Process(ctx, j); err != nil {
			t.Fatalf("retry error = %v", err)
		}
		if got := h.replies(t); len(got) != 1 || !strings.HasPrefix(got[0].Body, "Face matched Mel Gibson") {
			t.Errorf("replies = %+v, want the match once", got)
		}
	})

	t.Run("ledger unavailable", func(t *testing.T) {
		h := newHarness(t)
		h.cloud.DynamoDB.Inject("UpdateItem", "ValidationException")
		if err := h.worker.Process(ctx, job(sleuth.VerbAddCollection, "celebs")); err == nil {
			t.Fatal("Process with DynamoDB throttled: error = nil")
		}
		if n := h.cloud.Rekognition.Calls("CreateCollection"); n != 0 {
			t.Errorf("CreateCollection calls = %d, want 0 without a claim", n)
		}
	})

	t.Run("another delivery in progress", func(t *testing.T) {
		h := newHarness(t)
		h.cloud.DynamoDB.Put(table, awsfake.Item{
			"pk": awsfake.S("MM0123#addcol"), "status": awsfake.S("pending"), "owner": awsfake.S("another-delivery"),
			"leaseUntilMs": awsfake.N(h.clock.Now().Add(time.Minute).UnixMilli()),
		})
		err := h.worker.Process(ctx, job(sleuth.VerbAddCollection, "celebs"))
		if !errors.Is(err, sleuth.ErrInProgress) {
			t.Errorf("Process during another delivery: error = %v, want ErrInProgress", err)
		}
		if n := h.cloud.Rekognition.Calls("CreateCollection"); n != 0 {
			t.Errorf("CreateCollection calls = %d, want 0", n)
		}
	})

	// A user's mistake is an outcome like any other: answered, recorded,
	// and the same answer published again to a duplicate.
	t.Run("user errors are answered and recorded", func(t *testing.T) {
		h := newHarness(t)
		j := addimg("mel", "image/jpeg")(h) // no collection
		for range 2 {
			if err := h.worker.Process(ctx, j); err != nil {
				t.Fatalf("Process error = %v, want nil for a user error", err)
			}
		}
		if item, _ := h.cloud.DynamoDB.Get(table, "MM0123#addimg"); item["status"].String() != `"done"` {
			t.Errorf("step after a user error = %v, want it done", item)
		}
		if n := h.cloud.Rekognition.Calls("IndexFaces"); n != 1 {
			t.Errorf("IndexFaces calls = %d, want 1", n)
		}
		want := "Collection celebs does not exist. Create it with: face addcol celebs"
		if got := h.replies(t); len(got) != 2 || got[0].Body != want || got[1].Body != want {
			t.Errorf("replies = %+v, want %q twice", got, want)
		}
	})
}
