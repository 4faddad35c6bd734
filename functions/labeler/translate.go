// Translating label descriptions: the Cloud Translation client, the
// instance's cache, and the fan-out over the requested languages.

package labeler

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	translate "cloud.google.com/go/translate/apiv3"
	"cloud.google.com/go/translate/apiv3/translatepb"
	"google.golang.org/api/option"
)

// SourceLanguage is the language of Cloud Vision's label descriptions.
const SourceLanguage = "en"

// MaxLanguages is the most languages one request may ask for: each costs a
// Translation call and money.
const MaxLanguages = 10

// DefaultTranslationCacheSize is how many translations (one text into one
// language) an instance keeps. Label descriptions repeat a lot ("Sky",
// "Cat"), so a warm instance rarely calls Cloud Translation.
const DefaultTranslationCacheSize = 4096

// languagePattern is a BCP-47 tag as Cloud Translation takes it: "es",
// "fr", "zh-CN", "pt-BR", "sr-Latn".
var languagePattern = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$`)

// ParseLanguages parses a comma-separated list of language codes ("es,fr,de";
// spaces around codes are ignored), dropping repetitions and keeping the
// order. An empty string means none. The error says which code is wrong.
func ParseLanguages(raw string) ([]string, error) {
	var langs []string
	for code := range strings.SplitSeq(raw, ",") {
		code = strings.TrimSpace(code)
		if code == "" {
			if strings.TrimSpace(raw) == "" {
				break
			}
			return nil, fmt.Errorf("languages %q has an empty code: separate codes with single commas", raw)
		}
		if !languagePattern.MatchString(code) {
			return nil, fmt.Errorf("language %q is not a language code such as es, fr or zh-CN", code)
		}
		if !slices.Contains(langs, code) {
			langs = append(langs, code)
		}
	}
	if len(langs) > MaxLanguages {
		return nil, fmt.Errorf("%d languages asked for, at most %d allowed", len(langs), MaxLanguages)
	}
	return langs, nil
}

// CloudTranslator translates with Cloud Translation v3 (TranslateText, the
// general model). It is safe for concurrent use.
type CloudTranslator struct {
	client *translate.TranslationClient
	parent string
}

var _ Translator = (*CloudTranslator)(nil)

// NewCloudTranslator creates the Translation client for project (its id).
// Without options it reaches translate.googleapis.com with Application
// Default Credentials; tests pass option.WithEndpoint,
// option.WithoutAuthentication and an insecure gRPC dial option. The
// caller's service account needs roles/cloudtranslate.user on project.
func NewCloudTranslator(ctx context.Context, project string, opts ...option.ClientOption) (*CloudTranslator, error) {
	if project == "" {
		return nil, fmt.Errorf("new cloud translator: no project: Cloud Translation bills and authorizes calls per project")
	}
	client, err := translate.NewTranslationClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("new cloud translator: %w", err)
	}
	return &CloudTranslator{client: client, parent: "projects/" + project + "/locations/global"}, nil
}

// Translate makes one TranslateText call for all of texts (plain text, from
// English) into target.
func (c *CloudTranslator) Translate(ctx context.Context, texts []string, target string) ([]string, error) {
	resp, err := c.client.TranslateText(ctx, &translatepb.TranslateTextRequest{
		Parent:             c.parent,
		Contents:           texts,
		MimeType:           "text/plain",
		SourceLanguageCode: SourceLanguage,
		TargetLanguageCode: target,
	})
	if err != nil {
		return nil, fmt.Errorf("translate %d texts into %s: cloud translation: %w", len(texts), target, err)
	}
	got := resp.GetTranslations()
	if len(got) != len(texts) {
		return nil, fmt.Errorf("translate %d texts into %s: cloud translation answered %d translations", len(texts), target, len(got))
	}
	out := make([]string, len(got))
	for i, t := range got {
		out[i] = t.GetTranslatedText()
	}
	return out, nil
}

// Close closes the Translation client's connections.
func (c *CloudTranslator) Close() error {
	if err := c.client.Close(); err != nil {
		return fmt.Errorf("close cloud translator: %w", err)
	}
	return nil
}

// TranslationCache remembers translations per language and text in the
// instance, so that only texts it has not seen in a language reach next,
// in one call. When full it forgets the oldest entries first. It is safe
// for concurrent use; two requests missing the same text at once both ask
// next (the answers are equal).
type TranslationCache struct {
	next Translator
	max  int

	mu      sync.Mutex
	entries map[cacheKey]string
	order   []cacheKey // insertion order, oldest first
}

type cacheKey struct{ lang, text string }

var _ Translator = (*TranslationCache)(nil)

// NewTranslationCache returns a cache of at most size translations in front
// of next; size 0 means DefaultTranslationCacheSize.
func NewTranslationCache(next Translator, size int) *TranslationCache {
	if size <= 0 {
		size = DefaultTranslationCacheSize
	}
	return &TranslationCache{next: next, max: size, entries: map[cacheKey]string{}}
}

// Translate answers from the cache and asks next, in one call, for the
// texts it lacks.
func (c *TranslationCache) Translate(ctx context.Context, texts []string, target string) ([]string, error) {
	out := make([]string, len(texts))
	var missing []string
	var where [][]int // where[i]: the positions of missing[i] in texts
	c.mu.Lock()
	for i, text := range texts {
		if t, ok := c.entries[cacheKey{target, text}]; ok {
			out[i] = t
			continue
		}
		if j := slices.Index(missing, text); j >= 0 {
			where[j] = append(where[j], i)
			continue
		}
		missing = append(missing, text)
		where = append(where, []int{i})
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	got, err := c.next.Translate(ctx, missing, target)
	if err != nil {
		return nil, err
	}
	if len(got) != len(missing) {
		return nil, fmt.Errorf("translate into %s: %d translations for %d texts", target, len(got), len(missing))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, text := range missing {
		for _, pos := range where[i] {
			out[pos] = got[i]
		}
		c.put(cacheKey{target, text}, got[i])
	}
	return out, nil
}

// Len returns the number of cached translations.
func (c *TranslationCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// put adds an entry, forgetting the oldest ones beyond max. c.mu is held.
func (c *TranslationCache) put(k cacheKey, v string) {
	if _, ok := c.entries[k]; !ok {
		c.order = append(c.order, k)
	}
	c.entries[k] = v
	for len(c.order) > c.max {
		delete(c.entries, c.order[0])
		c.order = c.order[1:]
	}
}

// translateLabels sets the Translations of labels for langs. Cloud
// Translation's TranslateText takes one target language per request, so it
// makes one call per language, each carrying every label, and runs the
// languages in parallel. English is the descriptions themselves.
func translateLabels(ctx context.Context, t Translator, labels []Label, langs []string) error {
	if len(labels) == 0 || len(langs) == 0 {
		return nil
	}
	texts := make([]string, len(labels))
	for i, l := range labels {
		texts[i] = l.Description
	}
	results := make([][]string, len(langs))
	errs := make([]error, len(langs))
	var wg sync.WaitGroup
	for i, lang := range langs {
		if lang == SourceLanguage {
			results[i] = texts
			continue
		}
		wg.Go(func() { results[i], errs[i] = t.Translate(ctx, texts, lang) })
	}
	wg.Wait()
	for i, lang := range langs {
		if errs[i] != nil {
			return errs[i]
		}
		if len(results[i]) != len(texts) {
			return fmt.Errorf("translate into %s: %d translations for %d labels", lang, len(results[i]), len(texts))
		}
	}
	for j := range labels {
		labels[j].Translations = make(map[string]string, len(langs))
		for i, lang := range langs {
			labels[j].Translations[lang] = results[i][j]
		}
	}
	return nil
}
