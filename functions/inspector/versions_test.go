package inspector

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"cloud.google.com/go/vision/v2/apiv1/visionpb"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/crossfaas/crossfaas/functions/labeler/labelertest"
	"github.com/crossfaas/crossfaas/internal/leakcheck"
	"github.com/crossfaas/crossfaas/internal/s3fake"
)

// awkwardNames are keys whose copy source must be encoded: "+" (which S3
// decodes as a space), a space, "%20" (a literal percent sign), unicode,
// and characters of queries and fragments.
var awkwardNames = []string{"a+b c%20ü.jpg", "dir/100% off+1.jpg", "q?x=1&y=2#frag.jpg", "日本 語/写真.jpg"}

// TestAwkwardKeysAreMoved: the quarantine and the blur of objects whose
// keys need encoding in x-amz-copy-source move that very object, through
// the real SDK against a fake that decodes the header as S3 does.
func TestAwkwardKeysAreMoved(t *testing.T) {
	leakcheck.Check(t)
	for _, action := range []string{ActionQuarantine, ActionBlur} {
		t.Run(action, func(t *testing.T) {
			w := newWorld(t)
			w.vision.SetSafeSearch(labelertest.Likelihoods(visionpb.Likelihood_VERY_LIKELY))
			h := w.handler(t, Config{Action: action})
			for _, name := range awkwardNames {
				img := testJPEG(t, 64, 48)
				ev := w.upload(t, name, img)
				if ev.Records[0].S3.Object.Key == IncomingPrefix+name {
					t.Fatalf("the event's key %q is not URL-encoded as S3 sends it", ev.Records[0].S3.Object.Key)
				}
				if err := h.Handle(context.Background(), ev); err != nil {
					t.Fatalf("%q: %v", name, err)
				}
				r := w.result(t, name)
				checkPlaced(t, r.QuarantineKey, QuarantinePrefix, name)
				if r.State != StateDone || !bytes.Equal(w.object(t, r.QuarantineKey), img) || w.object(t, IncomingPrefix+name) != nil {
					t.Errorf("%q: sidecar %+v; want it moved to %s", name, r, r.QuarantineKey)
				}
				if action == ActionBlur {
					checkPlaced(t, r.PublicKey, PublicPrefix, name+".jpg")
					if w.object(t, r.PublicKey) == nil {
						t.Errorf("%q: no blurred copy at %q", name, r.PublicKey)
					}
				}
			}
		})
	}
}

// TestCopySource: the header decodes, as S3 decodes it (a form value),
// to the bucket and key.
func TestCopySource(t *testing.T) {
	for _, name := range append(awkwardNames, "plain.jpg", "~tilde/+.jpg") {
		key := IncomingPrefix + name
		got := copySource("bkt", key, "v+1/2=")
		path, query, _ := strings.Cut(got, "?")
		decoded, err := url.QueryUnescape(path)
		if err != nil || decoded != "bkt/"+key || query != "versionId="+url.QueryEscape("v+1/2=") {
			t.Errorf("copySource(%q) = %q: decodes to %q (%v), want bkt/%s", key, got, decoded, err, key)
		}
		if strings.ContainsAny(path, "+ ?#&") {
			t.Errorf("copySource(%q) = %q: unencoded characters S3 would misread", key, got)
		}
	}
}

// TestSourceMissingIsNotAMove: the original version missing when it is to
// be copied to quarantine/ (deleted by someone, or S3 not finding what
// the request named) is an error, and nothing says it was moved.
func TestSourceMissingIsNotAMove(t *testing.T) {
	leakcheck.Check(t)
	w := newWorld(t)
	w.vision.SetSafeSearch(labelertest.Likelihoods(visionpb.Likelihood_VERY_LIKELY))
	h := w.handler(t, Config{})
	img := testJPEG(t, 64, 48)

	// S3 answers the copy 404 although the version is there.
	ev := w.upload(t, "a.jpg", img)
	w.s3.Intercept(func(rw http.ResponseWriter, r *http.Request, c s3fake.Call) bool {
		if c.Op == "CopyObject" {
			s3fake.WriteError(rw, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.", c.Key)
			return true
		}
		return false
	})
	err := h.Handle(context.Background(), ev)
	w.s3.Intercept(nil)
	if err == nil || !strings.Contains(err.Error(), "not marked done") {
		t.Errorf("error = %v, want the missing original reported", err)
	}
	if w.object(t, "results/a.jpg.json") != nil || !bytes.Equal(w.object(t, "incoming/a.jpg"), img) || len(w.keys(t, QuarantinePrefix)) != 0 {
		t.Error("a copy that failed with 404 was taken for a move")
	}
	if err := h.Handle(context.Background(), ev); err != nil { // the retry
		t.Fatal(err)
	}
	if r := w.result(t, "a.jpg"); r.State != StateDone || !bytes.Equal(w.object(t, r.QuarantineKey), img) {
		t.Errorf("the retry did not move it: %+v", r)
	}

	// The copy fails; then the version is deleted by someone else: the
	// next delivery finds it gone with no copy made.
	ev = w.upload(t, "b.jpg", img)
	w.s3.Intercept(func(rw http.ResponseWriter, r *http.Request, c s3fake.Call) bool {
		if c.Op == "CopyObject" {
			s3fake.WriteError(rw, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.", c.Key)
			return true
		}
		return false
	})
	if err := h.Handle(context.Background(), ev); err == nil {
		t.Fatal("a failed copy succeeded")
	}
	w.s3.Intercept(nil)
	if _, err := w.client.DeleteObject(context.Background(), &s3.DeleteObjectInput{
		Bucket: aws.String(testBucket), Key: aws.String("incoming/b.jpg"), VersionId: aws.String(ev.Records[0].S3.Object.VersionID),
	}); err != nil {
		t.Fatal(err)
	}
	err = h.Handle(context.Background(), ev)
	if err == nil || !strings.Contains(err.Error(), "no copy of it was made") {
		t.Errorf("error = %v, want the missing original reported", err)
	}
	if w.object(t, "results/b.jpg.json") != nil {
		t.Errorf("sidecar %s written for an object never moved", w.object(t, "results/b.jpg.json"))
	}
}

// TestVersions: a newer upload of a key is inspected again and acted on
// apart; an older version's event, delivered again or late, is handled
// by its own record and never replaces the newer result.
func TestVersions(t *testing.T) {
	leakcheck.Check(t)
	w := newWorld(t)
	h := w.handler(t, Config{})
	safe, unsafe := testJPEG(t, 64, 48), testJPEG(t, 80, 60)

	w.vision.SetSafeSearch(labelertest.Likelihoods(visionpb.Likelihood_VERY_UNLIKELY))
	v1 := w.upload(t, "k.jpg", safe)
	if err := h.Handle(context.Background(), v1); err != nil {
		t.Fatal(err)
	}
	w.vision.SetSafeSearch(labelertest.Likelihoods(visionpb.Likelihood_VERY_LIKELY))
	v2 := w.upload(t, "k.jpg", unsafe)
	if err := h.Handle(context.Background(), v2); err != nil {
		t.Fatal(err)
	}
	if n := w.labelerCalls.Load(); n != 2 {
		t.Fatalf("labeler calls = %d, want 2: the newer version is inspected again", n)
	}
	r := w.result(t, "k.jpg")
	if r.VersionID != v2.Records[0].S3.Object.VersionID || r.Verdict != VerdictUnsafe || !bytes.Equal(w.object(t, r.QuarantineKey), unsafe) {
		t.Fatalf("sidecar = %+v, want v2 quarantined", r)
	}
	// v1's event again: nothing is asked, nothing is replaced.
	if err := h.Handle(context.Background(), v1); err != nil {
		t.Fatal(err)
	}
	if n := w.labelerCalls.Load(); n != 2 {
		t.Errorf("labeler calls = %d after v1's event again, want 2", n)
	}
	if got := w.result(t, "k.jpg"); got.VersionID != r.VersionID || got.Verdict != VerdictUnsafe {
		t.Errorf("after v1's event again the sidecar is %+v, want v2's", got)
	}
	records := w.keys(t, "results/k.jpg.json.versions/")
	if len(records) != 2 {
		t.Fatalf("records = %q, want one per version", records)
	}
	verdicts := map[string]string{}
	for _, key := range records {
		var rec Result
		if err := json.Unmarshal(w.object(t, key), &rec); err != nil {
			t.Fatal(err)
		}
		verdicts[rec.VersionID] = rec.Verdict
	}
	if verdicts[v1.Records[0].S3.Object.VersionID] != VerdictSafe || verdicts[v2.Records[0].S3.Object.VersionID] != VerdictUnsafe {
		t.Errorf("records' verdicts by version = %v", verdicts)
	}

	// A version whose event comes after a newer one's: inspected, acted
	// on, recorded, and the sidecar keeps the newer result.
	late := w.upload(t, "m.jpg", unsafe)
	w.vision.SetSafeSearch(labelertest.Likelihoods(visionpb.Likelihood_VERY_UNLIKELY))
	newest := w.upload(t, "m.jpg", safe)
	if err := h.Handle(context.Background(), newest); err != nil {
		t.Fatal(err)
	}
	w.vision.SetSafeSearch(labelertest.Likelihoods(visionpb.Likelihood_VERY_LIKELY))
	if err := h.Handle(context.Background(), late); err != nil {
		t.Fatal(err)
	}
	if got := w.result(t, "m.jpg"); got.VersionID != newest.Records[0].S3.Object.VersionID || got.Verdict != VerdictSafe {
		t.Errorf("sidecar = %+v, want the newest version's safe result", got)
	}
	if q := w.keys(t, QuarantinePrefix); !hasSuffixed(q, "/m.jpg") || !bytes.Equal(w.object(t, "incoming/m.jpg"), safe) {
		t.Errorf("quarantine %q, incoming/m.jpg current %d bytes: want the late unsafe version quarantined and the newest kept", q, len(w.object(t, "incoming/m.jpg")))
	}
}

func hasSuffixed(keys []string, suffix string) bool {
	for _, k := range keys {
		if strings.HasSuffix(k, suffix) {
			return true
		}
	}
	return false
}

// TestPublicKeysNeverCollide: blurred copies of two keys that differ only
// by a ".jpg" suffix, and of two versions of one key, land on four keys.
func TestPublicKeysNeverCollide(t *testing.T) {
	w := newWorld(t)
	w.vision.SetSafeSearch(labelertest.Likelihoods(visionpb.Likelihood_VERY_LIKELY))
	h := w.handler(t, Config{Action: ActionBlur})
	sizes := map[string]image.Point{}
	seen := map[string]bool{}
	for i, name := range []string{"a.png", "a.png.jpg", "b.jpg", "b.jpg"} {
		wd, ht := 400+40*i, 300+30*i
		data := testJPEG(t, wd, ht)
		if name == "a.png" {
			data = encoded(t, wd, ht)["png"]
		}
		if err := h.Handle(context.Background(), w.upload(t, name, data)); err != nil {
			t.Fatal(err)
		}
		r := w.result(t, name)
		if seen[r.PublicKey] {
			t.Errorf("%s (upload %d): public key %q used twice", name, i, r.PublicKey)
		}
		seen[r.PublicKey] = true
		sizes[r.PublicKey] = image.Pt(wd, ht)
	}
	for key, size := range sizes {
		img, _, err := image.Decode(bytes.NewReader(w.object(t, key)))
		if err != nil {
			t.Errorf("%s: %v", key, err)
			continue
		}
		if b := img.Bounds(); b.Dx() != size.X || b.Dy() != size.Y {
			t.Errorf("%s is %dx%d, want the blurred copy of the %dx%d upload", key, b.Dx(), b.Dy(), size.X, size.Y)
		}
	}
}

// TestCopyOfAnotherVersionIsAnError: S3 saying it copied a version other
// than the event's (x-amz-copy-source-version-id) is an error, not a move;
// the original stays and nothing is recorded as copied.
func TestCopyOfAnotherVersionIsAnError(t *testing.T) {
	w := newWorld(t)
	w.vision.SetSafeSearch(labelertest.Likelihoods(visionpb.Likelihood_VERY_LIKELY))
	h := w.handler(t, Config{})
	img := testJPEG(t, 64, 48)
	ev := w.upload(t, "v.jpg", img)
	var inside atomic.Bool
	w.s3.Intercept(func(rw http.ResponseWriter, r *http.Request, c s3fake.Call) bool {
		if c.Op != "CopyObject" || !inside.CompareAndSwap(false, true) {
			return false
		}
		defer inside.Store(false)
		w.s3.ServeHTTP(versionRewriter{rw}, r)
		return true
	})
	err := h.Handle(context.Background(), ev)
	w.s3.Intercept(nil)
	if err == nil || !strings.Contains(err.Error(), `S3 copied version "another-version"`) {
		t.Errorf("error = %v, want the other version reported", err)
	}
	if !bytes.Equal(w.object(t, "incoming/v.jpg"), img) || w.object(t, "results/v.jpg.json") != nil {
		t.Error("the original was deleted or the move recorded")
	}
}

// versionRewriter answers as if S3 had copied another version.
type versionRewriter struct{ http.ResponseWriter }

func (v versionRewriter) WriteHeader(status int) {
	if v.Header().Get("X-Amz-Copy-Source-Version-Id") != "" {
		v.Header().Set("X-Amz-Copy-Source-Version-Id", "another-version")
	}
	v.ResponseWriter.WriteHeader(status)
}

// TestKeyTooLongForItsRecord: an upload whose name leaves no room for the
// inspector's keys under S3's 1,024 bytes is tagged rejected with the
// reason, not retried, and nothing is written.
func TestKeyTooLongForItsRecord(t *testing.T) {
	w := newWorld(t)
	h := w.handler(t, Config{})
	name := strings.Repeat("n", 1000) + ".jpg"
	if err := h.Handle(context.Background(), w.upload(t, name, testJPEG(t, 16, 16))); err != nil {
		t.Fatal(err)
	}
	tags := w.s3.Tags(testBucket, IncomingPrefix+name, "")
	if tags[TagVerdict] != VerdictRejected || !strings.Contains(tags[TagReason], "the key is too long") {
		t.Errorf("tags = %v, want rejected because the key is too long", tags)
	}
	if n := w.labelerCalls.Load(); n != 0 || len(w.keys(t, ResultsPrefix)) != 0 {
		t.Errorf("labeler calls %d, results %q: want none", n, w.keys(t, ResultsPrefix))
	}
}
