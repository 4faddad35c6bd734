package labeler

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/vision/v2/apiv1/visionpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestParseLanguages(t *testing.T) {
	tests := []struct {
		raw     string
		want    []string
		wantErr string
	}{
		{raw: "", want: nil},
		{raw: "  ", want: nil},
		{raw: "es", want: []string{"es"}},
		{raw: "es,fr,de", want: []string{"es", "fr", "de"}},
		{raw: " es , fr ", want: []string{"es", "fr"}},
		{raw: "es,es,fr", want: []string{"es", "fr"}},
		{raw: "zh-CN,pt-BR,sr-Latn,fil", want: []string{"zh-CN", "pt-BR", "sr-Latn", "fil"}},
		{raw: "es,,fr", wantErr: "empty code"},
		{raw: "es,", wantErr: "empty code"},
		{raw: "Spanish", wantErr: `"Spanish" is not a language code`},
		{raw: "e", wantErr: "not a language code"},
		{raw: "es;fr", wantErr: "not a language code"},
		{raw: "a,b,c", wantErr: "not a language code"},
		{raw: "aa,ab,ac,ad,ae,af,ag,ah,ai,aj,ak", wantErr: "11 languages asked for, at most 10"},
	}
	for _, tt := range tests {
		got, err := ParseLanguages(tt.raw)
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ParseLanguages(%q) error = %v, want %q", tt.raw, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || !slices.Equal(got, tt.want)):
			t.Errorf("ParseLanguages(%q) = %q, %v; want %q", tt.raw, got, err, tt.want)
		}
	}
}

// newTranslatingServer serves the handler with Vision's and Translation's
// fakes behind the real clients, the translator behind the instance cache.
func newTranslatingServer(t *testing.T, cfg Config) (*testServer, *fakeTranslation) {
	t.Helper()
	fake := startFakeVision(t)
	tr := startFakeTranslation(t)
	cfg.Translator = NewTranslationCache(tr.newTranslator(t), 0)
	logs := &lockedBuffer{}
	srv := httptest.NewServer(NewHandler(fake.newAnnotator(t), cfg, newCloudLogger(logs)))
	t.Cleanup(srv.Close)
	return &testServer{fake: fake, url: srv.URL, logs: logs}, tr
}

// TestHandlerTranslatesLabels: one TranslateText call per language, each
// with every label, from English, under the project's global location; the
// reply carries each label's translations.
func TestHandlerTranslatesLabels(t *testing.T) {
	srv, tr := newTranslatingServer(t, Config{Languages: []string{"es", "fr", "de"}})
	got := send(t, newRequest(t, http.MethodPost, srv.url+"/?languages=es,fr", "image/png", string(testImages(t)[FormatPNG])))
	if got.status != http.StatusOK {
		t.Fatalf("status = %d, body %s", got.status, got.raw)
	}
	labels, _ := got.json["labels"].([]any)
	want := []map[string]string{
		{"es": "Gato", "fr": "Chat"},
		{"es": "Bigotes", "fr": "Moustaches"},
		{"es": "Gatos pequeños a medianos", "fr": "Chats de petite à moyenne taille"},
	}
	if len(labels) != len(want) {
		t.Fatalf("labels = %v, want %d", labels, len(want))
	}
	for i, l := range labels {
		gotTr := map[string]string{}
		for k, v := range l.(map[string]any)["translations"].(map[string]any) {
			gotTr[k] = v.(string)
		}
		if !reflect.DeepEqual(gotTr, want[i]) {
			t.Errorf("label %d translations = %v, want %v", i, gotTr, want[i])
		}
	}
	if got.json["translationEngine"] != EngineCloudTranslation || !reflect.DeepEqual(got.json["languages"], []any{"es", "fr"}) {
		t.Errorf("reply = %s, want languages [es fr] and engine %s", got.raw, EngineCloudTranslation)
	}
	reqs := tr.received()
	if len(reqs) != 2 {
		t.Fatalf("Translation got %d requests, want one per language (2)", len(reqs))
	}
	var targets []string
	for _, r := range reqs {
		targets = append(targets, r.GetTargetLanguageCode())
		if r.GetParent() != "projects/test-project/locations/global" || r.GetSourceLanguageCode() != "en" || r.GetMimeType() != "text/plain" {
			t.Errorf("request = %v, want parent projects/test-project/locations/global, source en, text/plain", r)
		}
		if want := []string{"Cat", "Whiskers", "Small to medium-sized cats"}; !slices.Equal(r.GetContents(), want) {
			t.Errorf("contents = %q, want every label %q in one call", r.GetContents(), want)
		}
	}
	slices.Sort(targets)
	if !slices.Equal(targets, []string{"es", "fr"}) {
		t.Errorf("targets = %v, want es and fr", targets)
	}

	// Warm: the same labels again cost no Translation call.
	got = send(t, newRequest(t, http.MethodGet, srv.url+"/?languages=fr,es&imageUri=gs://b/o.jpg", "", ""))
	if got.status != 200 || len(tr.received()) != 2 {
		t.Errorf("second request: status %d, Translation requests %d, want 200 and still 2 (cached)", got.status, len(tr.received()))
	}

	// A new label is the only text sent, once per language that lacks it.
	srv.fake.setRespond(answerAll(&visionpbDogAndCat))
	got = send(t, newRequest(t, http.MethodGet, srv.url+"/?languages=es,de&imageUri=gs://b/dog.jpg", "", ""))
	if got.status != 200 {
		t.Fatalf("third request: %d %s", got.status, got.raw)
	}
	reqs = tr.received()[2:]
	byTarget := map[string][]string{}
	for _, r := range reqs {
		byTarget[r.GetTargetLanguageCode()] = r.GetContents()
	}
	if wantCalls := map[string][]string{"es": {"Dog"}, "de": {"Dog", "Cat"}}; !reflect.DeepEqual(byTarget, wantCalls) {
		t.Errorf("third request's Translation calls = %v, want %v", byTarget, wantCalls)
	}
	if l := get(got.json, "labels"); fmt.Sprint(l) != "[map[description:Dog score:0.9 translations:map[de:de:Dog es:Perro]] map[description:Cat score:0.8 translations:map[de:de:Cat es:Gato]]]" {
		t.Errorf("labels = %v", l)
	}
}

// TestHandlerTranslationRules: languages outside the enabled ones are
// refused, English costs nothing, a failing Translation is a 502, and
// without a translator the reply says why labels are untranslated.
func TestHandlerTranslationRules(t *testing.T) {
	srv, tr := newTranslatingServer(t, Config{Languages: []string{"es", "en"}})
	got := send(t, newRequest(t, http.MethodGet, srv.url+"/?languages=es,ja&imageUri=gs://b/o.jpg", "", ""))
	if got.status != 400 || !strings.Contains(got.raw, `language \"ja\" is not enabled for this labeler: it translates into es, en`) {
		t.Errorf("ja: %d %s, want 400 naming the enabled languages", got.status, got.raw)
	}
	got = send(t, newRequest(t, http.MethodGet, srv.url+"/?languages=en&imageUri=gs://b/o.jpg", "", ""))
	if got.status != 200 || get(got.json, "labels") == nil || len(tr.received()) != 0 {
		t.Errorf("en: %d, %d Translation calls; want 200 and none", got.status, len(tr.received()))
	}
	if l, _ := got.json["labels"].([]any); len(l) == 0 || get(l[0], "translations.en") != "Cat" {
		t.Errorf("en translations = %v, want the descriptions", got.json["labels"])
	}
	got = send(t, newRequest(t, http.MethodGet, srv.url+"/?languages=es&languages=en&imageUri=gs://b/o.jpg", "", ""))
	if got.status != 400 {
		t.Errorf("languages twice: %d, want 400", got.status)
	}

	tr.setFailure(status.Error(codes.PermissionDenied, "Cloud Translation API has not been used in project"))
	got = send(t, newRequest(t, http.MethodGet, srv.url+"/?languages=es&imageUri=gs://b/o.jpg", "", ""))
	if got.status != 502 || got.json["error"] != "translating the labels failed upstream (PermissionDenied)" {
		t.Errorf("failing Translation: %d %s, want 502 naming translation", got.status, got.raw)
	}

	fake := startFakeVision(t)
	plain := httptest.NewServer(NewHandler(fake.newAnnotator(t), Config{TranslationNote: "offline: no translation"}, nil))
	defer plain.Close()
	got = send(t, newRequest(t, http.MethodGet, plain.URL+"/?languages=es&imageUri=gs://b/o.jpg", "", ""))
	if got.status != 200 || got.json["translationNote"] != "offline: no translation" || got.json["translationEngine"] != nil {
		t.Errorf("no translator: %d %s, want 200 with the note and no engine", got.status, got.raw)
	}
	if l, _ := got.json["labels"].([]any); len(l) == 0 || get(l[0], "translations") != nil {
		t.Errorf("no translator: labels %v, want them untranslated", got.json["labels"])
	}
}

// countingTranslator counts its calls and texts.
type countingTranslator struct {
	calls int
	texts []string
}

func (c *countingTranslator) Translate(_ context.Context, texts []string, target string) ([]string, error) {
	c.calls++
	c.texts = append(c.texts, texts...)
	out := make([]string, len(texts))
	for i, s := range texts {
		out[i] = target + ":" + s
	}
	return out, nil
}

func TestTranslationCache(t *testing.T) {
	next := &countingTranslator{}
	c := NewTranslationCache(next, 3)
	ctx := context.Background()
	got, err := c.Translate(ctx, []string{"a", "b", "a"}, "es")
	if err != nil || !slices.Equal(got, []string{"es:a", "es:b", "es:a"}) || next.calls != 1 || !slices.Equal(next.texts, []string{"a", "b"}) {
		t.Fatalf("first = %q, %v; calls %d texts %q; want one call for a and b", got, err, next.calls, next.texts)
	}
	if got, _ := c.Translate(ctx, []string{"b", "a"}, "es"); !slices.Equal(got, []string{"es:b", "es:a"}) || next.calls != 1 {
		t.Errorf("cached = %q after %d calls, want no new call", got, next.calls)
	}
	// Another language is another entry.
	if got, _ := c.Translate(ctx, []string{"a"}, "fr"); !slices.Equal(got, []string{"fr:a"}) || next.calls != 2 {
		t.Errorf("fr = %q after %d calls, want a second call", got, next.calls)
	}
	// Full: the oldest entry (es:a) goes.
	c.Translate(ctx, []string{"c"}, "es")
	if c.Len() != 3 {
		t.Errorf("Len = %d, want the limit 3", c.Len())
	}
	next.texts = nil
	c.Translate(ctx, []string{"a", "b"}, "es")
	if !slices.Equal(next.texts, []string{"a"}) {
		t.Errorf("after eviction asked for %q, want only the evicted a", next.texts)
	}
}

// visionpbDogAndCat is Vision's answer for a dog next to a cat.
var visionpbDogAndCat = visionpb.AnnotateImageResponse{
	LabelAnnotations: []*visionpb.EntityAnnotation{{Description: "Dog", Score: 0.9}, {Description: "Cat", Score: 0.8}},
}
