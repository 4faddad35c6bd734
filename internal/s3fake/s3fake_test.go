package s3fake

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/crossfaas/crossfaas/internal/leakcheck"
)

func start(t *testing.T) (*Server, *s3.Client) {
	t.Helper()
	s, err := Start("b")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, s.Client()
}

func put(t *testing.T, c *s3.Client, key, body string, tagging string) *s3.PutObjectOutput {
	t.Helper()
	in := &s3.PutObjectInput{Bucket: aws.String("b"), Key: aws.String(key), Body: strings.NewReader(body), ContentType: aws.String("image/jpeg")}
	if tagging != "" {
		in.Tagging = aws.String(tagging)
	}
	out, err := c.PutObject(t.Context(), in)
	if err != nil {
		t.Fatalf("PutObject %s: %v", key, err)
	}
	return out
}

// TestVersionsTagsAndCopies drives the fake with the real S3 client:
// versions, tags per version, copies of a given version with their tags,
// deletes of one version.
func TestVersionsTagsAndCopies(t *testing.T) {
	s, c := start(t)
	ctx := t.Context()
	v1 := put(t, c, "incoming/a b.jpg", "first", "owner=me")
	v2 := put(t, c, "incoming/a b.jpg", "second", "")
	if aws.ToString(v1.VersionId) == "" || aws.ToString(v1.VersionId) == aws.ToString(v2.VersionId) {
		t.Fatalf("versions %q and %q, want two different ones", aws.ToString(v1.VersionId), aws.ToString(v2.VersionId))
	}
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("incoming/a b.jpg"), VersionId: v1.VersionId})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(got.Body)
	if string(body) != "first" {
		t.Errorf("GetObject v1 = %q, want first", body)
	}

	if _, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
		Bucket: aws.String("b"), Key: aws.String("incoming/a b.jpg"), VersionId: v1.VersionId,
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("verdict"), Value: aws.String("unsafe")}, {Key: aws.String("owner"), Value: aws.String("me")}}},
	}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("b"), Key: aws.String("incoming/a b.jpg"), VersionId: v1.VersionId})
	if err != nil || len(tags.TagSet) != 2 || aws.ToString(tags.TagSet[0].Value) != "unsafe" {
		t.Errorf("GetObjectTagging v1 = %+v, %v; want the two tags put", tags, err)
	}
	if got := s.Tags("b", "incoming/a b.jpg", ""); got != nil {
		t.Errorf("tags of the current version = %v, want none", got)
	}
	// The object itself is untouched by tagging (gofakes3 alone overwrites it).
	got, _ = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("incoming/a b.jpg"), VersionId: v1.VersionId})
	if body, _ := io.ReadAll(got.Body); string(body) != "first" {
		t.Errorf("after tagging, v1 = %q", body)
	}

	cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String("b"), Key: aws.String("quarantine/a b.jpg"),
		CopySource: aws.String("b/" + url.PathEscape("incoming/a b.jpg") + "?versionId=" + aws.ToString(v1.VersionId)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(cp.CopySourceVersionId) != aws.ToString(v1.VersionId) {
		t.Errorf("copy source version = %q, want %q", aws.ToString(cp.CopySourceVersionId), aws.ToString(v1.VersionId))
	}
	got, _ = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("quarantine/a b.jpg")})
	if body, _ := io.ReadAll(got.Body); string(body) != "first" || aws.ToString(got.ContentType) != "image/jpeg" {
		t.Errorf("copy = %q (%s), want v1's bytes and type", body, aws.ToString(got.ContentType))
	}
	if tags := s.Tags("b", "quarantine/a b.jpg", ""); !maps.Equal(tags, map[string]string{"verdict": "unsafe", "owner": "me"}) {
		t.Errorf("copy's tags = %v, want v1's", tags)
	}

	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("b"), Key: aws.String("incoming/a b.jpg"), VersionId: v1.VersionId}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("incoming/a b.jpg"), VersionId: v1.VersionId})
	var noVersion *s3types.NoSuchKey
	if err == nil || !(errors.As(err, &noVersion) || strings.Contains(err.Error(), "NoSuchVersion")) {
		t.Errorf("GetObject of a deleted version: %v, want NoSuchVersion", err)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("b"), Key: aws.String("quarantine/x"),
		CopySource: aws.String("b/incoming/a%20b.jpg?versionId=" + aws.ToString(v1.VersionId))})
	if err == nil || !strings.Contains(err.Error(), "NoSuchVersion") {
		t.Errorf("CopyObject of a deleted version: %v, want NoSuchVersion", err)
	}
	got, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("incoming/a b.jpg")})
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := io.ReadAll(got.Body); string(body) != "second" {
		t.Errorf("after deleting v1 the key holds %q, want the second upload", body)
	}
	if n := s.Count("CopyObject", "quarantine/a b.jpg"); n != 1 {
		t.Errorf("Count(CopyObject) = %d, want 1", n)
	}

	_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("b"), Key: aws.String("incoming/a b.jpg"),
		Tagging: &s3types.Tagging{TagSet: slices.Repeat([]s3types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}, 2)}})
	if err == nil || !strings.Contains(err.Error(), "InvalidTag") {
		t.Errorf("two tags of one key: %v, want InvalidTag", err)
	}
}

// TestNotifications: creations under a subscribed prefix become S3 event
// records shaped like aws-lambda-go's fixture; other keys and tagging do
// not.
func TestNotifications(t *testing.T) {
	s, c := start(t)
	var mu sync.Mutex
	var got []events.S3EventRecord
	s.Subscribe("b", "incoming/", func(r events.S3EventRecord) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r)
	})
	v := put(t, c, "incoming/Happy Face.jpg", "smile", "")
	put(t, c, "results/Happy Face.jpg.json", "{}", "")
	c.PutObjectTagging(t.Context(), &s3.PutObjectTaggingInput{Bucket: aws.String("b"), Key: aws.String("incoming/Happy Face.jpg"),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}})
	if _, err := c.CopyObject(t.Context(), &s3.CopyObjectInput{Bucket: aws.String("b"), Key: aws.String("incoming/copy.jpg"), CopySource: aws.String("b/incoming/Happy%20Face.jpg")}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("%d events, want 2 (the put and the copy under incoming/)", len(got))
	}
	r := got[0]
	if r.EventName != "ObjectCreated:Put" || r.S3.Object.Key != "incoming/Happy+Face.jpg" || r.S3.Object.Size != 5 ||
		r.S3.Object.VersionID != aws.ToString(v.VersionId) || r.S3.Object.ETag != strings.Trim(aws.ToString(v.ETag), `"`) || r.S3.Bucket.Name != "b" {
		t.Errorf("event = %+v", r)
	}
	if got[1].EventName != "ObjectCreated:Copy" || got[1].S3.Object.Sequencer <= r.S3.Object.Sequencer {
		t.Errorf("second event = %s %s, want a Copy with a later sequencer than %s", got[1].EventName, got[1].S3.Object.Sequencer, r.S3.Object.Sequencer)
	}

	// Same JSON fields as aws-lambda-go's fixture of a real S3 event.
	fixture, err := os.ReadFile(filepath.Join(moduleDir(t, "github.com/aws/aws-lambda-go"), "events", "testdata", "s3-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	json.Unmarshal(fixture, &want)
	ours, _ := json.Marshal(events.S3Event{Records: []events.S3EventRecord{r}})
	var have map[string]any
	json.Unmarshal(ours, &have)
	if wk, hk := keys(want, ""), keys(have, ""); !slices.Equal(wk, hk) {
		t.Errorf("event fields %v, fixture's %v", hk, wk)
	}
}

// keys lists the paths of the JSON object's fields.
func keys(v any, prefix string) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if k == "urlDecodedKey" {
				continue // aws-lambda-go's own addition, not S3's
			}
			out = append(out, prefix+k)
			out = append(out, keys(e, prefix+k+".")...)
		}
	case []any:
		for _, e := range v {
			out = append(out, keys(e, prefix)...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// moduleDir is the directory of a module of the build.
func moduleDir(t *testing.T, module string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", module, err)
	}
	return string(bytes.TrimSpace(out))
}

func TestEncodeKey(t *testing.T) {
	for key, want := range map[string]string{
		"incoming/Happy Face.jpg": "incoming/Happy+Face.jpg",
		"incoming/a+b=c.jpg":      "incoming/a%2Bb%3Dc.jpg",
		"incoming/ñ/é.png":        "incoming/%C3%B1/%C3%A9.png",
	} {
		if got := EncodeKey(key); got != want {
			t.Errorf("EncodeKey(%q) = %q, want %q", key, got, want)
		}
	}
}

// TestCopySourceDecodedAsS3Does: S3 reads x-amz-copy-source as a form
// value, so "+" is a space and "%2B" a plus sign; the fake does the same,
// so a client that leaves "+" unencoded fails here as it would on S3.
func TestCopySourceDecodedAsS3Does(t *testing.T) {
	leakcheck.Check(t)
	s, c := start(t)
	put(t, c, "incoming/a+b c.jpg", "plus", "")
	put(t, c, "incoming/a b c.jpg", "space", "")
	tests := []struct{ source, want string }{
		{"b/incoming/a%2Bb%20c.jpg", "plus"},
		{"b/incoming/a+b+c.jpg", "space"},
		{"b/incoming/a+b%20c.jpg", "space"},
		{"/b/incoming%2Fa%2Bb%20c.jpg", "plus"},
	}
	for i, tt := range tests {
		dst := "quarantine/" + strconv.Itoa(i)
		if _, err := c.CopyObject(t.Context(), &s3.CopyObjectInput{Bucket: aws.String("b"), Key: aws.String(dst), CopySource: aws.String(tt.source)}); err != nil {
			t.Errorf("copy %q: %v", tt.source, err)
			continue
		}
		got, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String(dst)})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(got.Body)
		got.Body.Close()
		if string(body) != tt.want {
			t.Errorf("copy of %q = %q, want %q", tt.source, body, tt.want)
		}
	}
	if _, err := c.CopyObject(t.Context(), &s3.CopyObjectInput{Bucket: aws.String("b"), Key: aws.String("x"), CopySource: aws.String("b/incoming/a+b.jpg")}); err == nil || !strings.Contains(err.Error(), "NoSuchKey") {
		t.Errorf("copy of a key that decodes to none: %v, want NoSuchKey", err)
	}
	if s.Count("CopyObject", "x") != 1 {
		t.Error("the failed copy was not recorded")
	}
}
