package worker

import (
	"regexp"
	"strings"
	"testing"
)

// The regexps isID replaced: it must accept exactly what they matched.
var (
	prefixRegexp     = regexp.MustCompile(`^[a-zA-Z0-9_.\-]{1,128}$`)
	collectionRegexp = regexp.MustCompile(`^[a-z0-9_.\-]{1,64}$`)
	nameRegexp       = regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,64}$`)
)

func TestIsID(t *testing.T) {
	tests := []struct {
		name       string
		s          string
		prefix     bool // validPrefix
		collection bool // isID(s, maxID, true)
		personName bool // isID(s, maxID, false)
	}{
		{"empty", "", false, false, false},
		{"lower-case", "celebs", true, true, true},
		{"upper-case", "Mel_Gibson", true, false, true},
		{"every allowed character", "az09_.-", false, true, true}, // '.' separates prefix and name: never in a prefix
		{"every prefix character", "az09_-", true, true, true},
		{"64 characters", strings.Repeat("a", 64), true, true, true},
		{"65 characters", strings.Repeat("a", 65), true, false, false},
		{"128 characters", strings.Repeat("A", 128), true, false, false},
		{"129 characters", strings.Repeat("a", 129), false, false, false},
		{"colon", "a:b", false, false, false},
		{"space", "mel gibson", false, false, false},
		{"accent", "josé", false, false, false},
		{"trailing newline", "celebs\n", false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validPrefix(tt.s); got != tt.prefix {
				t.Errorf("validPrefix(%q) = %v, want %v", tt.s, got, tt.prefix)
			}
			if got := isID(tt.s, maxID, true); got != tt.collection {
				t.Errorf("isID(%q, %d, true) = %v, want %v", tt.s, maxID, got, tt.collection)
			}
			if got := isID(tt.s, maxID, false); got != tt.personName {
				t.Errorf("isID(%q, %d, false) = %v, want %v", tt.s, maxID, got, tt.personName)
			}
		})
	}
}

func FuzzIsID(f *testing.F) {
	for _, seed := range []string{"", "celebs", "Mel_Gibson", "a:b", strings.Repeat("x", 64), strings.Repeat("y", 129), "é", "a\n"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validPrefix(s), prefixRegexp.MatchString(s); got != want {
			t.Errorf("validPrefix(%q) = %v, want %v as the regexp", s, got, want)
		}
		if got, want := isID(s, maxID, true), collectionRegexp.MatchString(s); got != want {
			t.Errorf("isID(%q, %d, true) = %v, want %v as the regexp", s, maxID, got, want)
		}
		if got, want := isID(s, maxID, false), nameRegexp.MatchString(s); got != want {
			t.Errorf("isID(%q, %d, false) = %v, want %v as the regexp", s, maxID, got, want)
		}
	})
}
