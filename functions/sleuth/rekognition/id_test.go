package rekognition

import (
	"regexp"
	"strings"
	"testing"
)

// The regexps validID replaced: it must accept exactly what they matched.
var (
	collectionIDRegexp = regexp.MustCompile(`^[a-zA-Z0-9_.\-]{1,255}$`)
	externalIDRegexp   = regexp.MustCompile(`^[a-zA-Z0-9_.\-:]{1,255}$`)
)

func TestValidID(t *testing.T) {
	tests := []struct {
		name       string
		id         string
		collection bool // valid as a collection id
		external   bool // valid as an external image id
	}{
		{"empty", "", false, false},
		{"prefixed collection", "crossfaas-dev-celebs", true, true},
		{"every allowed character", "aZ09_.-", true, true},
		{"colon", "a:b", false, true},
		{"255 characters", strings.Repeat("a", 255), true, true},
		{"256 characters", strings.Repeat("a", 256), false, false},
		{"space", "mel gibson", false, false},
		{"slash", "a/b", false, false},
		{"accent", "josé", false, false},
		{"trailing newline", "celebs\n", false, false},
		{"NUL", "a\x00", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validID(tt.id, false); got != tt.collection {
				t.Errorf("validID(%q, false) = %v, want %v", tt.id, got, tt.collection)
			}
			if got := validID(tt.id, true); got != tt.external {
				t.Errorf("validID(%q, true) = %v, want %v", tt.id, got, tt.external)
			}
		})
	}
}

func FuzzValidID(f *testing.F) {
	for _, seed := range []string{"", "celebs", "a:b", "a b", strings.Repeat("x", 255), strings.Repeat("y", 256), "é", "a\n"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := validID(id, false), collectionIDRegexp.MatchString(id); got != want {
			t.Errorf("validID(%q, false) = %v, want %v as the regexp", id, got, want)
		}
		if got, want := validID(id, true), externalIDRegexp.MatchString(id); got != want {
			t.Errorf("validID(%q, true) = %v, want %v as the regexp", id, got, want)
		}
	})
}
