package wikipedia_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/wikipedia"
)

const melExtract = "Mel Columcille Gerard Gibson is an American actor, filmmaker, and writer. He is best known for his action hero roles."

// longExtract is a real-length lead: the first sentence ends before 320
// characters, the second after.
var longExtract = "Denzel Hayes Washington Jr. is an American actor, producer, and director. " +
	"Widely regarded as one of the greatest actors of his generation, he has received numerous accolades, " +
	"including two Academy Awards, three Golden Globe Awards, a Tony Award, and a Silver Bear, " +
	"as well as nominations for two Grammy Awards and a Primetime Emmy Award, across a career spanning more than four decades."

// longSentences ends its second sentence past half of MaxLength and its
// third past MaxLength.
var longSentences = strings.Repeat("First sentence goes on and on. ", 3) +
	"Second sentence is long as well, for it keeps going well past the middle of the limit. " +
	"Third sentence: " + strings.Repeat("words ", 40) + "end."

func fakeWikipedia(t *testing.T) (*httptest.Server, func() []*http.Request) {
	t.Helper()
	var (
		mu   sync.Mutex
		seen []*http.Request
	)
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request left the wiki: %s", r.URL)
	}))
	t.Cleanup(elsewhere.Close)
	page := func(w http.ResponseWriter, typ, title, extract string) {
		w.Header().Set("Content-Type", `application/json; charset=utf-8; profile="https://www.mediawiki.org/wiki/Specs/Summary/1.5.0"`)
		json.NewEncoder(w).Encode(map[string]any{
			"type": typ, "title": strings.ReplaceAll(title, "_", " "), "extract": extract,
			"description": "test page", "lang": "en",
		})
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r)
		mu.Unlock()
		title, ok := strings.CutPrefix(r.URL.Path, "/api/rest_v1/page/summary/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		switch title {
		case "Mel_Gibson":
			page(w, "standard", title, melExtract)
		case "Mel_gibson": // a redirect page, as the REST API answers it
			w.Header().Set("Location", "Mel_Gibson")
			w.WriteHeader(http.StatusFound)
		case "Denzel_Washington":
			page(w, "standard", title, longExtract)
		case "Long_Sentences":
			page(w, "standard", title, longSentences)
		case "John_Smith":
			page(w, "disambiguation", title, "John Smith may refer to:")
		case "Empty_Page":
			page(w, "no-extract", title, "")
		case "Offsite":
			http.Redirect(w, r, elsewhere.URL+"/api/rest_v1/page/summary/Offsite", http.StatusFound)
		case "Broken":
			http.Error(w, "upstream error", http.StatusBadGateway)
		case "Garbage":
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte("{not json"))
		case "Slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		default:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"type":"https://mediawiki.org/wiki/HyperSwitch/errors/not_found","title":"Not found.","method":"get","detail":"Page or revision not found."}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []*http.Request {
		mu.Lock()
		defer mu.Unlock()
		return append([]*http.Request(nil), seen...)
	}
}

func TestBiography(t *testing.T) {
	tests := []struct {
		name        string
		person      string
		want        string
		wantErr     error
		wantFailure bool // unreachable or bad answer: not ErrNoBiography
	}{
		{name: "article", person: "Mel Gibson", want: melExtract},
		{name: "lower case follows the redirect", person: "mel gibson", want: melExtract},
		{name: "underscored name", person: "mel_gibson", want: melExtract},
		// The first sentence is under half of MaxLength: cut at a word.
		{name: "long extract is cut at a word", person: "Denzel Washington",
			want: "Denzel Hayes Washington Jr. is an American actor, producer, and director. " +
				"Widely regarded as one of the greatest actors of his generation, he has received numerous accolades, " +
				"including two Academy Awards, three Golden Globe Awards, a Tony Award, and a Silver Bear, " +
				"as well as nominations for two Grammy Awards and a…"},
		{name: "long extract is cut at a sentence", person: "Long Sentences",
			want: longSentences[:strings.Index(longSentences, " Third")]},
		{name: "disambiguation", person: "John Smith", wantErr: sleuth.ErrNoBiography},
		{name: "not found", person: "Nobody Here", wantErr: sleuth.ErrNoBiography},
		{name: "no extract", person: "Empty Page", wantErr: sleuth.ErrNoBiography},
		{name: "empty name", person: " ", wantErr: sleuth.ErrNoBiography},
		{name: "redirect off the wiki", person: "Offsite", wantFailure: true},
		{name: "server error", person: "Broken", wantFailure: true},
		{name: "bad JSON", person: "Garbage", wantFailure: true},
	}
	srv, _ := fakeWikipedia(t)
	c, err := wikipedia.New(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Biography(context.Background(), tt.person)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Biography(%q) = %q, %v, want error %v", tt.person, got, err, tt.wantErr)
				}
			case tt.wantFailure:
				if err == nil || errors.Is(err, sleuth.ErrNoBiography) {
					t.Errorf("Biography(%q) = %q, %v, want a failure other than ErrNoBiography", tt.person, got, err)
				}
			default:
				if err != nil || got != tt.want {
					t.Errorf("Biography(%q) = %q, %v, want %q", tt.person, got, err, tt.want)
				}
			}
		})
	}
}

func TestBiographyRequest(t *testing.T) {
	srv, seen := fakeWikipedia(t)
	c, err := wikipedia.New(srv.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Biography(context.Background(), "Mel Gibson"); err != nil {
		t.Fatal(err)
	}
	reqs := seen()
	if len(reqs) != 1 {
		t.Fatalf("wiki got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodGet || r.URL.Path != "/api/rest_v1/page/summary/Mel_Gibson" {
		t.Errorf("request = %s %s, want GET /api/rest_v1/page/summary/Mel_Gibson", r.Method, r.URL.Path)
	}
	if got := r.Header.Get("User-Agent"); got != wikipedia.UserAgent {
		t.Errorf("User-Agent = %q, want %q", got, wikipedia.UserAgent)
	}
}

func TestBiographyTimeout(t *testing.T) {
	srv, _ := fakeWikipedia(t)
	c, err := wikipedia.New(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.Biography(ctx, "Slow")
	if err == nil || errors.Is(err, sleuth.ErrNoBiography) {
		t.Errorf("Biography(Slow) error = %v, want a failure", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Biography(Slow) took %v, want it to stop at the deadline", elapsed)
	}
}

func TestTitle(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Mel Gibson", "Mel_Gibson"},
		{"mel_gibson", "Mel_Gibson"},
		{"  ronald   McDonald ", "Ronald_McDonald"},
		{"élodie_yung", "Élodie_Yung"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := wikipedia.Title(tt.in); got != tt.want {
			t.Errorf("Title(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestShorten(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{name: "fits", in: "Short bio.", max: 20, want: "Short bio."},
		{name: "exactly max", in: "12345", max: 5, want: "12345"},
		{name: "whole sentences", in: "One two three. Four five six. Seven eight nine.", max: 35, want: "One two three. Four five six."},
		{name: "sentence ending at the cut", in: "One two three. Four five six. Seven", max: 29, want: "One two three. Four five six."},
		{name: "not at an initial", in: "Mel C. Gibson is an actor and a director of films", max: 30, want: "Mel C. Gibson is an actor and…"},
		{name: "sentence too short: cut at a word", in: "Hi. Then a very long sentence without any end in sight", max: 30, want: "Hi. Then a very long sentence…"},
		{name: "trailing comma dropped", in: "alpha beta, gamma delta epsilon", max: 13, want: "alpha beta…"},
		{name: "one long word", in: "Supercalifragilisticexpialidocious", max: 10, want: "Supercali…"},
		{name: "multibyte", in: "Élodie Yung est une actrice française née à Paris", max: 20, want: "Élodie Yung est une…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := wikipedia.Shorten(tt.in, tt.max)
			if got != tt.want {
				t.Errorf("Shorten(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
			if n := utf8.RuneCountInString(got); n > tt.max {
				t.Errorf("Shorten(%q, %d) has %d characters, want at most %d", tt.in, tt.max, n, tt.max)
			}
		})
	}
}

func TestNewRejectsBadBase(t *testing.T) {
	for _, base := range []string{
		"en.wikipedia.org", "ftp://en.wikipedia.org", "https://en.wikipedia.org?x=1", "://",
		// Plain http only to loopback: nothing on a network may alter replies.
		"http://en.wikipedia.org", "http://10.0.0.1:8080", "http://localhost.evil.example", "http://127.0.0.1.nip.io",
		"https://user:pw@en.wikipedia.org",
	} {
		if _, err := wikipedia.New(base, nil); err == nil {
			t.Errorf("New(%q) error = nil", base)
		}
	}
	for _, base := range []string{"", "https://en.wikipedia.org", "https://de.wikipedia.org/", "http://127.0.0.1:8080", "http://localhost:9", "http://[::1]:80"} {
		if _, err := wikipedia.New(base, nil); err != nil {
			t.Errorf("New(%q) error = %v", base, err)
		}
	}
}

// TestBiographyRetriesOnce: a GET that fails in a way a retry may pass (a
// 5xx, a body cut short) is sent once more; a 4xx is not.
func TestBiographyRetriesOnce(t *testing.T) {
	for _, tt := range []struct {
		name     string
		failures []int // statuses before the article; 0 cuts the body short
		want     bool  // the biography is returned
		requests int
	}{
		{"one 503", []int{503}, true, 2},
		{"a body cut short", []int{0}, true, 2},
		{"two 503s", []int{503, 503}, false, 2},
		{"a 403", []int{403}, false, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := int(n.Add(1)) - 1
				if i < len(tt.failures) {
					if tt.failures[i] == 0 {
						w.Header().Set("Content-Type", "application/json")
						w.Header().Set("Content-Length", "100")
						w.Write([]byte(`{"type":"standard","ext`))
						return
					}
					w.WriteHeader(tt.failures[i])
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"type":"standard","title":"Mel Gibson","extract":"An actor."}`))
			}))
			t.Cleanup(srv.Close)
			c, err := wikipedia.New(srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Biography(context.Background(), "Mel Gibson")
			if (err == nil && got == "An actor.") != tt.want {
				t.Errorf("Biography() = %q, %v, want the biography: %v", got, err, tt.want)
			}
			if int(n.Load()) != tt.requests {
				t.Errorf("requests = %d, want %d", n.Load(), tt.requests)
			}
		})
	}
}
