package worker_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

const celebs = prefix + ".celebs"

func TestCommands(t *testing.T) {
	tests := []struct {
		name  string
		setup func(h *harness)
		job   func(h *harness) sleuth.Job
		want  string // the reply's body
		// after checks the side effects.
		after func(t *testing.T, h *harness)
	}{
		{
			name: "addcol creates",
			job:  func(*harness) sleuth.Job { return job(sleuth.VerbAddCollection, "celebs") },
			want: "Collection celebs was created.",
			after: func(t *testing.T, h *harness) {
				if _, ok := h.cloud.Rekognition.Faces(celebs); !ok {
					t.Errorf("collection %q not created", celebs)
				}
			},
		},
		{
			name:  "addcol exists",
			setup: func(h *harness) { h.cloud.Rekognition.AddCollection(celebs) },
			job:   func(*harness) sleuth.Job { return job(sleuth.VerbAddCollection, "celebs") },
			want:  "Collection celebs already exists.",
		},
		{
			name:  "addimg indexes",
			setup: func(h *harness) { h.cloud.Rekognition.AddCollection(celebs) },
			job:   addimg("mel", "image/jpeg"),
			want:  "Picture of Mel Gibson added to collection celebs.",
			after: func(t *testing.T, h *harness) {
				faces, _ := h.cloud.Rekognition.Faces(celebs)
				if len(faces) != 1 || faces[0].ExternalImageID != "mel_gibson:MM0123" || faces[0].Person != "mel" {
					t.Errorf("collection %q holds %+v, want one face of mel as mel_gibson:MM0123", celebs, faces)
				}
			},
		},
		{
			name:  "addimg png",
			setup: func(h *harness) { h.cloud.Rekognition.AddCollection(celebs) },
			job:   addimg("mel-png", "image/png"),
			want:  "Picture of Mel Gibson added to collection celebs.",
		},
		{
			name:  "addimg without image",
			setup: func(h *harness) { h.cloud.Rekognition.AddCollection(celebs) },
			job: func(*harness) sleuth.Job {
				j := job(sleuth.VerbAddImage, "celebs")
				j.Name = "mel_gibson"
				return j
			},
			want:  "Please attach a photo (JPEG or PNG) to the command.",
			after: noRekognition("IndexFaces"),
		},
		{
			name:  "addimg declared gif is not fetched",
			setup: func(h *harness) { h.cloud.Rekognition.AddCollection(celebs) },
			job:   addimg("mel", "image/gif"),
			want:  "Sorry, I can only read JPEG or PNG photos. Please send the photo as a JPEG or PNG.",
			after: func(t *testing.T, h *harness) {
				noRekognition("IndexFaces")(t, h)
				if n := h.twilio.mediaCalls(); n != 0 {
					t.Errorf("media requests = %d, want 0", n)
				}
			},
		},
		{
			name:  "addimg gif bytes declared jpeg",
			setup: func(h *harness) { h.cloud.Rekognition.AddCollection(celebs) },
			job:   addimg("gif", "image/jpeg"),
			want:  "Sorry, I can only read JPEG or PNG photos. Please send the photo as a JPEG or PNG.",
			after: noRekognition("IndexFaces"),
		},
		{
			name:  "addimg too large",
			setup: func(h *harness) { h.cloud.Rekognition.AddCollection(celebs) },
			job:   addimg("huge", "image/jpeg"),
			want:  "That photo is larger than 5 MB. Please send a smaller one.",
			after: noRekognition("IndexFaces"),
		},
		{
			name:  "addimg not a Twilio URL",
			setup: func(h *harness) { h.cloud.Rekognition.AddCollection(celebs) },
			job: func(h *harness) sleuth.Job {
				j := addimg("mel", "image/jpeg")(h)
				j.MediaURL = "https://example.com/mel.jpg"
				return j
			},
			want:  "Sorry, I can only use a photo attached to your message.",
			after: noRekognition("IndexFaces"),
		},
		{
			name:  "addimg media deleted: 404 is answered, not retried",
			setup: func(h *harness) { h.cloud.Rekognition.AddCollection(celebs) },
			job:   addimg("deleted", "image/jpeg"),
			want:  "Sorry, I couldn't download the photo you sent: Twilio no longer has it. Please send it again.",
			after: noRekognition("IndexFaces"),
		},
		{
			name:  "addimg no face",
			setup: func(h *harness) { h.cloud.Rekognition.AddCollection(celebs) },
			job:   addimg("nobody", "image/jpeg"),
			want:  "I couldn't find a face in that photo. Please send a clear photo of one face.",
		},
		{
			name: "addimg unknown collection",
			job:  addimg("mel", "image/jpeg"),
			want: "Collection celebs does not exist. Create it with: face addcol celebs",
		},
		{
			name:  "addimg undecodable",
			setup: func(h *harness) { h.cloud.Rekognition.AddCollection(celebs) },
			job:   addimg("corrupt", "image/jpeg"),
			want:  "Sorry, I couldn't read that image. Please send a clear JPEG or PNG photo.",
		},
		{
			name:  "match with biography",
			setup: func(h *harness) { h.cloud.Rekognition.AddFace(celebs, "mel_gibson", "mel") },
			job:   match("mel"),
			want:  "Face matched Mel Gibson with 99.1% similarity.\n\n" + melBio,
			after: func(t *testing.T, h *harness) {
				reqs := h.cloud.Rekognition.SearchRequests()
				if len(reqs) != 1 || reqs[0].CollectionID != celebs || reqs[0].FaceMatchThreshold != 85 {
					t.Errorf("searches = %+v, want one in %q with threshold 85", reqs, celebs)
				}
			},
		},
		{
			name:  "match without biography",
			setup: func(h *harness) { h.cloud.Rekognition.AddFace(celebs, "joe_nobody", "joe") },
			job:   match("joe"),
			want:  "Face matched Joe Nobody with 99.1% similarity.\n\nNo biography found.",
		},
		{
			name:  "match with wikipedia down",
			setup: func(h *harness) { h.cloud.Rekognition.AddFace(celebs, "danny_glover", "danny") },
			job:   match("danny"),
			want:  "Face matched Danny Glover with 99.1% similarity.\n\n(biography unavailable)",
		},
		{
			name:  "match below threshold",
			setup: func(h *harness) { h.cloud.Rekognition.AddFace(celebs, "mel_gibson", "mel") },
			job:   match("danny"),
			want:  "No face in collection celebs matched with at least 85% similarity.",
		},
		{
			name:  "match no face",
			setup: func(h *harness) { h.cloud.Rekognition.AddFace(celebs, "mel_gibson", "mel") },
			job:   match("nobody"),
			want:  "I couldn't find a face in that photo. Please send a clear photo of one face.",
		},
		{
			name: "match unknown collection",
			job:  match("mel"),
			want: "Collection celebs does not exist. Create it with: face addcol celebs",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if tt.setup != nil {
				tt.setup(h)
			}
			j := tt.job(h)
			if err := h.worker.HandleSNS(context.Background(), snsEvent(t, "arn:aws:sns:us-east-1:123456789012:crossfaas-dev-sleuth-"+string(j.Command), j)); err != nil {
				t.Fatalf("HandleSNS(%s) error = %v", j.Command, err)
			}
			replies := h.replies(t)
			if len(replies) != 1 {
				t.Fatalf("published %d replies, want 1: %+v", len(replies), replies)
			}
			want := sleuth.Reply{MessageSid: j.MessageSid, Step: string(j.Command), From: botNumber, To: user, Body: tt.want}
			// Replies that do not give the command's result are marked.
			want.Error = !slices.ContainsFunc([]string{"Collection celebs was created.", "Collection celebs already exists.", "Picture of ", "Face matched "},
				func(prefix string) bool { return strings.HasPrefix(tt.want, prefix) })
			if replies[0] != want {
				t.Errorf("reply = %+v, want %+v", replies[0], want)
			}
			if tt.after != nil {
				tt.after(t, h)
			}
			// Every step leaves a record in the logs, with its outcome.
			var logged bool
			for _, rec := range h.logs.records(t) {
				if rec["msg"] == "job done" && rec["sid"] == j.MessageSid && rec["step"] == string(j.Command) && rec["result"] != nil {
					logged = true
				}
				if from, _ := rec["from"].(string); strings.Contains(from, user) {
					t.Errorf("log record %v holds the user's number", rec)
				}
			}
			if !logged {
				t.Errorf("no \"job done\" log record with sid, step and result in %v", h.logs.records(t))
			}
		})
	}
}

func addimg(image, contentType string) func(h *harness) sleuth.Job {
	return func(h *harness) sleuth.Job {
		j := withMedia(job(sleuth.VerbAddImage, "celebs"), h.twilio, image, contentType)
		j.Name = "mel_gibson"
		return j
	}
}

func match(image string) func(h *harness) sleuth.Job {
	return func(h *harness) sleuth.Job {
		return withMedia(job(sleuth.VerbMatch, "celebs"), h.twilio, image, "image/jpeg")
	}
}

func noRekognition(op string) func(t *testing.T, h *harness) {
	return func(t *testing.T, h *harness) {
		if n := h.cloud.Rekognition.Calls(op); n != 0 {
			t.Errorf("%s calls = %d, want 0", op, n)
		}
	}
}

// Duplicate deliveries act once: one Rekognition side effect and, through
// the respond handler, one SMS.
func TestDuplicateDeliveries(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(h *harness)
		job       func(h *harness) sleuth.Job
		op        string // the Rekognition call that must happen once
		published int    // replies published for two deliveries
		wantSMS   string
	}{
		{
			name: "addcol", job: func(*harness) sleuth.Job { return job(sleuth.VerbAddCollection, "celebs") },
			op: "CreateCollection", published: 2, wantSMS: "Collection celebs was created.",
		},
		{
			name: "addimg", setup: func(h *harness) { h.cloud.Rekognition.AddCollection(celebs) },
			job: addimg("mel", "image/jpeg"), op: "IndexFaces", published: 2,
			wantSMS: "Picture of Mel Gibson added to collection celebs.",
		},
		{
			name: "match", setup: func(h *harness) { h.cloud.Rekognition.AddFace(celebs, "mel_gibson", "mel") },
			job: match("mel"), op: "SearchFacesByImage", published: 2,
			wantSMS: "Face matched Mel Gibson with 99.1% similarity.\n\n" + melBio,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if tt.setup != nil {
				tt.setup(h)
			}
			j := tt.job(h)
			ctx := context.Background()
			for i := range 2 {
				if err := h.worker.Process(ctx, j); err != nil {
					t.Fatalf("Process #%d error = %v", i+1, err)
				}
				h.clock.Advance(time.Minute)
			}
			if n := h.cloud.Rekognition.Calls(tt.op); n != 1 {
				t.Errorf("%s calls = %d, want 1", tt.op, n)
			}
			if tt.op == "IndexFaces" {
				if faces, _ := h.cloud.Rekognition.Faces(celebs); len(faces) != 1 {
					t.Errorf("collection holds %d faces, want 1", len(faces))
				}
			}
			replies := h.replies(t)
			if len(replies) != tt.published {
				t.Fatalf("published %d replies, want %d", len(replies), tt.published)
			}
			// SNS delivers each published reply, and each may be delivered twice.
			for _, r := range replies {
				for range 2 {
					if err := h.responder.HandleSNS(ctx, snsEvent(t, responsesTopic, r)); err != nil {
						t.Fatalf("respond error = %v", err)
					}
				}
			}
			want := [][3]string{{botNumber, user, tt.wantSMS}}
			if got := h.twilio.sent(); len(got) != 1 || got[0] != want[0] {
				t.Errorf("SMS sent = %q, want %q", got, want)
			}
		})
	}
}

func TestInvalidJobsAreDropped(t *testing.T) {
	valid := func(h *harness) sleuth.Job { return addimg("mel", "image/jpeg")(h) }
	tests := []struct {
		name   string
		mutate func(*sleuth.Job)
	}{
		{name: "no sid", mutate: func(j *sleuth.Job) { j.MessageSid = "" }},
		{name: "no sender", mutate: func(j *sleuth.Job) { j.From = "" }},
		{name: "unknown command", mutate: func(j *sleuth.Job) { j.Command = "delete" }},
		{name: "bad collection", mutate: func(j *sleuth.Job) { j.Collection = "Celebs/../x" }},
		{name: "no name", mutate: func(j *sleuth.Job) { j.Name = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			j := valid(h)
			tt.mutate(&j)
			if err := h.worker.Process(context.Background(), j); err != nil {
				t.Errorf("Process(%+v) error = %v, want nil (dropped)", j, err)
			}
			if n := len(h.cloud.DynamoDB.Requests()) + h.twilio.mediaCalls() + h.cloud.SNS.Calls(); n != 0 {
				t.Errorf("Process(%+v) made %d calls, want 0", j, n)
			}
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		h := newHarness(t)
		if err := h.worker.HandleSNS(context.Background(), snsEvent(t, "topic", "not json")); err != nil {
			t.Errorf("HandleSNS(not JSON) error = %v, want nil", err)
		}
	})
}
