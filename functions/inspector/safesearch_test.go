package inspector

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"cloud.google.com/go/vision/v2/apiv1/visionpb"

	"github.com/crossfaas/crossfaas/functions/labeler/labelertest"
)

// TestEachSafeSearchLikelihood: Vision's every likelihood, in each judged
// category, through the real labeler, gives the verdict of Judge's rule;
// an unsafe one is quarantined.
func TestEachSafeSearchLikelihood(t *testing.T) {
	w := newWorld(t)
	h := w.handler(t, Config{Action: ActionQuarantine})
	img := testJPEG(t, 64, 48)
	for _, category := range []string{"adult", "violence", "racy", "medical", "spoof"} {
		for value, name := range visionpb.Likelihood_name {
			l := visionpb.Likelihood(value)
			ss := labelertest.Likelihoods(visionpb.Likelihood_VERY_UNLIKELY)
			switch category {
			case "adult":
				ss.Adult = l
			case "violence":
				ss.Violence = l
			case "racy":
				ss.Racy = l
			case "medical":
				ss.Medical = l
			case "spoof":
				ss.Spoof = l
			}
			w.vision.SetSafeSearch(ss)
			file := category + "-" + name + ".jpg"
			err := h.Handle(context.Background(), w.upload(t, file, img))
			if l == visionpb.Likelihood_UNKNOWN && (category == "adult" || category == "violence" || category == "racy") {
				// A judged category Vision left unknown (or did not send:
				// its client reads a missing field as UNKNOWN) cannot be
				// judged: an error, retried, then dead-lettered.
				if err == nil || !strings.Contains(err.Error(), category+` "UNKNOWN"`) || w.object(t, ResultsPrefix+file+".json") != nil {
					t.Errorf("%s UNKNOWN: error %v, want one naming it and no sidecar", category, err)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			want := VerdictSafe
			switch {
			case (category == "adult" || category == "violence") && (name == "LIKELY" || name == "VERY_LIKELY"),
				category == "racy" && name == "VERY_LIKELY":
				want = VerdictUnsafe
			}
			r := w.result(t, file)
			moved := r.QuarantineKey != "" && bytes.Equal(w.object(t, r.QuarantineKey), img)
			if r.Verdict != want || moved != (want == VerdictUnsafe) {
				t.Errorf("%s %s: verdict %s (moved %v), want %s", category, name, r.Verdict, moved, want)
			}
			if want == VerdictUnsafe && r.Reason != category+" is "+name {
				t.Errorf("%s %s: reason %q", category, name, r.Reason)
			}
		}
	}
}

// TestSafeSearchMissing: a reply of Cloud Vision without SafeSearch is an
// error (retried, then dead-lettered), never a verdict; nothing is tagged
// safe or left done.
func TestSafeSearchMissing(t *testing.T) {
	w := newWorld(t)
	w.vision.SetSafeSearch(nil)
	h := w.handler(t, Config{})
	img := testJPEG(t, 64, 48)
	err := h.Handle(context.Background(), w.upload(t, "n.jpg", img))
	if err == nil || !strings.Contains(err.Error(), "no SafeSearch") {
		t.Errorf("error = %v, want no SafeSearch", err)
	}
	if w.object(t, "results/n.jpg.json") != nil || len(w.keys(t, "results/n.jpg.json.versions/")) != 0 {
		t.Error("a result was written without SafeSearch")
	}
	if tags := w.s3.Tags(testBucket, "incoming/n.jpg", ""); tags[TagVerdict] != "" {
		t.Errorf("tags = %v, want no verdict", tags)
	}
}

// TestJudgeReply: only the offline engine may answer without SafeSearch.
func TestJudgeReply(t *testing.T) {
	ok := &SafeSearch{Adult: "VERY_UNLIKELY", Violence: "UNLIKELY", Racy: "POSSIBLE"}
	tests := []struct {
		name    string
		reply   labelerReply
		verdict string
		err     string
	}{
		{"vision safe", labelerReply{Engine: "cloud-vision", SafeSearch: ok}, VerdictSafe, ""},
		{"vision unsafe", labelerReply{Engine: "cloud-vision", SafeSearch: &SafeSearch{Adult: "LIKELY", Violence: "UNLIKELY", Racy: "POSSIBLE"}}, VerdictUnsafe, ""},
		{"offline", labelerReply{Engine: "offline"}, VerdictUnknown, ""},
		{"vision without", labelerReply{Engine: "cloud-vision"}, "", "no SafeSearch"},
		{"no engine without", labelerReply{}, "", "no SafeSearch"},
		{"empty adult", labelerReply{Engine: "cloud-vision", SafeSearch: &SafeSearch{Violence: "UNLIKELY", Racy: "UNLIKELY"}}, "", `adult ""`},
		{"unknown racy", labelerReply{Engine: "cloud-vision", SafeSearch: &SafeSearch{Adult: "UNLIKELY", Violence: "UNLIKELY", Racy: "UNKNOWN"}}, "", `racy "UNKNOWN"`},
		{"misspelt violence", labelerReply{Engine: "cloud-vision", SafeSearch: &SafeSearch{Adult: "UNLIKELY", Violence: "likely", Racy: "UNLIKELY"}}, "", `violence "likely"`},
	}
	for _, tt := range tests {
		verdict, _, err := judgeReply(&tt.reply)
		if verdict != tt.verdict || (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: judgeReply = %q, %v; want %q, %q", tt.name, verdict, err, tt.verdict, tt.err)
		}
	}
}
