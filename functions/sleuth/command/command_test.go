package command

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Parsed
	}{
		{"help", "help", Parsed{}},
		{"help upper case", "HELP", Parsed{}},
		{"help with words", "help me please", Parsed{}},
		{"question mark", " ? ", Parsed{}},
		{"face help", "face help", Parsed{}},
		{"addcol", "face addcol celebs", Parsed{Verb: sleuth.VerbAddCollection, Collection: "celebs"}},
		{"addcol mixed case", "Face AddCol Celebs", Parsed{Verb: sleuth.VerbAddCollection, Collection: "celebs"}},
		{"addcol whitespace", "\t face \n addcol   celebs \r\n", Parsed{Verb: sleuth.VerbAddCollection, Collection: "celebs"}},
		{"addcol no-break space", "face\u00a0addcol\u00a0celebs", Parsed{Verb: sleuth.VerbAddCollection, Collection: "celebs"}},
		{"addcol all characters", "face addcol My.Celebs_2-x", Parsed{Verb: sleuth.VerbAddCollection, Collection: "my.celebs_2-x"}},
		{"addcol 64 characters", "face addcol " + strings.Repeat("c", 64), Parsed{Verb: sleuth.VerbAddCollection, Collection: strings.Repeat("c", 64)}},
		{"addimg", "face addimg celebs mel_gibson", Parsed{Verb: sleuth.VerbAddImage, Collection: "celebs", Name: "mel_gibson"}},
		{"addimg keeps name case", "FACE ADDIMG Celebs Ronald_McDonald", Parsed{Verb: sleuth.VerbAddImage, Collection: "celebs", Name: "Ronald_McDonald"}},
		{"addimg name in words", "face addimg celebs Mel  Gibson", Parsed{Verb: sleuth.VerbAddImage, Collection: "celebs", Name: "Mel_Gibson"}},
		{"addimg name with dot and hyphen", "face addimg celebs robert_downey_jr.", Parsed{Verb: sleuth.VerbAddImage, Collection: "celebs", Name: "robert_downey_jr."}},
		{"addimg digits in name", "face addimg celebs 2pac", Parsed{Verb: sleuth.VerbAddImage, Collection: "celebs", Name: "2pac"}},
		{"match", "face match celebs", Parsed{Verb: sleuth.VerbMatch, Collection: "celebs"}},
		{"match upper case", "FACE MATCH CELEBS", Parsed{Verb: sleuth.VerbMatch, Collection: "celebs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.body)
			if err != nil {
				t.Fatalf("Parse(%q) error = %v, want %+v", tt.body, err, tt.want)
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.body, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		kind     error
		contains string // a phrase the reply must contain
	}{
		{"empty", "", ErrEmpty, "empty"},
		{"only whitespace", " \n\t ", ErrEmpty, "CelebritySleuth commands"},
		{"unknown word", "hello there", ErrUnknownCommand, `I don't know "hello"`},
		{"unknown word clipped", strings.Repeat("x", 100), ErrUnknownCommand, strings.Repeat("x", 20) + "..."},
		{"face alone", "face", ErrUnknownCommand, "addcol, addimg or match"},
		{"unknown verb", "face delete celebs", ErrUnknownCommand, `"face delete"`},
		{"addcol without collection", "face addcol", ErrMissingCollection, "Send: face addcol <collection>"},
		{"addimg without collection", "face addimg", ErrMissingCollection, "Send: face addimg <collection> <first_last> + photo"},
		{"match without collection", "face match ", ErrMissingCollection, "Send: face match <collection> + photo"},
		{"collection with bang", "face addcol celebs!", ErrBadCollection, `(not "!")`},
		{"collection with colon", "face match a:b", ErrBadCollection, `(not ":")`},
		{"collection with slash", "face addcol a/b", ErrBadCollection, `(not "/")`},
		{"collection with accent", "face addcol célébrités", ErrBadCollection, `(not "é")`},
		{"collection with control character", "face addcol a\x00b", ErrBadCollection, "an invisible character"},
		{"collection with zero-width space", "face addcol a\u200bb", ErrBadCollection, "an invisible character"},
		{"collection with invalid UTF-8", "face addcol a\xffb", ErrBadCollection, "an unreadable character"},
		{"collection too long", "face addcol " + strings.Repeat("c", 65), ErrBadCollection, "too long"},
		{"addcol extra words", "face addcol celebs now", ErrTooManyWords, "Send: face addcol <collection>"},
		{"match extra words", "face match celebs mel_gibson", ErrTooManyWords, "Send: face match <collection> + photo"},
		{"addimg without name", "face addimg celebs", ErrMissingName, "Whose face"},
		{"name with apostrophe", "face addimg celebs sinead_o'connor", ErrBadName, `(not "'")`},
		{"name with accent", "face addimg celebs zoë_saldaña", ErrBadName, `(not "ë")`},
		{"name with colon", "face addimg celebs a:b", ErrBadName, `(not ":")`},
		{"name too long", "face addimg celebs " + strings.Repeat("n", 65), ErrBadName, "too long"},
		{"name too long in words", "face addimg celebs " + strings.Repeat("n ", 33), ErrBadName, "too long"},
		{"name without letters", "face addimg celebs _-_", ErrBadName, "needs letters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.body)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want error %v", tt.body, got, tt.kind)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("Parse(%q) error = %v, want kind %v", tt.body, err, tt.kind)
			}
			var usage *Error
			if !errors.As(err, &usage) {
				t.Errorf("Parse(%q) error is %T, want *Error", tt.body, err)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("Parse(%q) error = %q, want it to contain %q", tt.body, err.Error(), tt.contains)
			}
		})
	}
}

// TestErrorMessagesDiffer checks that every kind of mistake gets its own
// reply, so users can tell them apart.
func TestErrorMessagesDiffer(t *testing.T) {
	bodies := []string{
		"", "hello", "face addcol", "face addcol a!", "face addcol a b",
		"face addimg a", "face addimg a b!",
	}
	seen := map[string]string{}
	for _, body := range bodies {
		_, err := Parse(body)
		if err == nil {
			t.Fatalf("Parse(%q) succeeded, want an error", body)
		}
		if prev, ok := seen[err.Error()]; ok {
			t.Errorf("Parse(%q) and Parse(%q) both reply %q", body, prev, err.Error())
		}
		seen[err.Error()] = body
	}
}

func TestParsedString(t *testing.T) {
	tests := []struct {
		name string
		p    Parsed
		want string
	}{
		{"help", Parsed{}, "help"},
		{"addcol", Parsed{Verb: sleuth.VerbAddCollection, Collection: "celebs"}, "face addcol celebs"},
		{"addimg", Parsed{Verb: sleuth.VerbAddImage, Collection: "celebs", Name: "Mel_Gibson"}, "face addimg celebs Mel_Gibson"},
		{"match", Parsed{Verb: sleuth.VerbMatch, Collection: "celebs"}, "face match celebs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want {
				t.Errorf("%+v.String() = %q, want %q", tt.p, got, tt.want)
			}
			back, err := Parse(tt.want)
			if err != nil || back != tt.p {
				t.Errorf("Parse(%q) = %+v, %v, want %+v", tt.want, back, err, tt.p)
			}
		})
	}
}

func TestDisplayName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"first last", "mel_gibson", "Mel Gibson"},
		{"keeps inner capitals", "Ronald_McDonald", "Ronald McDonald"},
		{"hyphenated", "jean-luc_picard", "Jean-Luc Picard"},
		{"three words with dot", "robert_downey_jr.", "Robert Downey Jr."},
		{"single word", "madonna", "Madonna"},
		{"repeated underscores", "_mel__gibson_", "Mel Gibson"},
		{"digits", "2pac", "2pac"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DisplayName(tt.in); got != tt.want {
				t.Errorf("DisplayName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCheckMedia(t *testing.T) {
	addimg := Parsed{Verb: sleuth.VerbAddImage, Collection: "celebs", Name: "mel_gibson"}
	match := Parsed{Verb: sleuth.VerbMatch, Collection: "celebs"}
	addcol := Parsed{Verb: sleuth.VerbAddCollection, Collection: "celebs"}
	tests := []struct {
		name  string
		p     Parsed
		types []string
		kind  error // nil: accepted
	}{
		{"addimg jpeg", addimg, []string{"image/jpeg"}, nil},
		{"match png", match, []string{"image/png"}, nil},
		{"media type case and parameters", match, []string{"Image/JPEG; name=face.jpg"}, nil},
		{"addimg no image", addimg, nil, ErrMissingImage},
		{"match no image", match, []string{}, ErrMissingImage},
		{"two images", match, []string{"image/jpeg", "image/jpeg"}, ErrTooManyImages},
		{"gif", addimg, []string{"image/gif"}, ErrImageType},
		{"heic", match, []string{"image/heic"}, ErrImageType},
		{"video", match, []string{"video/mp4"}, ErrImageType},
		{"empty type", match, []string{""}, ErrImageType},
		{"malformed type", match, []string{"image/jpeg;;="}, ErrImageType},
		{"addcol ignores images", addcol, []string{"image/gif", "video/mp4"}, nil},
		{"help ignores images", Parsed{}, []string{"image/jpeg"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckMedia(tt.p, tt.types)
			if tt.kind == nil {
				if err != nil {
					t.Errorf("CheckMedia(%v, %q) = %v, want nil", tt.p, tt.types, err)
				}
				return
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("CheckMedia(%v, %q) = %v, want kind %v", tt.p, tt.types, err, tt.kind)
			}
			if err != nil && !strings.Contains(err.Error(), "Send: ") {
				t.Errorf("CheckMedia(%v, %q) = %q, want it to show the syntax", tt.p, tt.types, err.Error())
			}
		})
	}
}

func TestParseMessage(t *testing.T) {
	match := func(collection string) Parsed { return Parsed{Verb: sleuth.VerbMatch, Collection: collection} }
	tests := []struct {
		name  string
		body  string
		types []string
		want  Parsed
		kind  error // nil: accepted
	}{
		{"a photo alone", "", []string{"image/jpeg"}, match(sleuth.DefaultCollection), nil},
		{"a photo with blank text", " \n\u00a0", []string{"image/png"}, match(sleuth.DefaultCollection), nil},
		{"a GIF alone", "", []string{"image/gif"}, Parsed{}, ErrImageType},
		{"two photos alone", "", []string{"image/jpeg", "image/jpeg"}, Parsed{}, ErrTooManyImages},
		{"nothing at all", "", nil, Parsed{}, ErrEmpty},
		{"a command and its photo", "face match vips", []string{"image/jpeg"}, match("vips"), nil},
		{"a command without its photo", "face match vips", nil, Parsed{}, ErrMissingImage},
		{"help with a photo", "help", []string{"image/jpeg"}, Parsed{}, nil},
		{"addcol with a photo", "face addcol vips", []string{"video/mp4"}, Parsed{Verb: sleuth.VerbAddCollection, Collection: "vips"}, nil},
		{"text that is no command, with a photo", "who is this?", []string{"image/jpeg"}, Parsed{}, ErrUnknownCommand},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMessage(tt.body, tt.types)
			if tt.kind == nil {
				if err != nil || got != tt.want {
					t.Errorf("ParseMessage(%q, %q) = %+v, %v, want %+v", tt.body, tt.types, got, err, tt.want)
				}
				return
			}
			var usage *Error
			if !errors.Is(err, tt.kind) || !errors.As(err, &usage) {
				t.Errorf("ParseMessage(%q, %q) = %+v, %v, want a *Error of kind %v", tt.body, tt.types, got, err, tt.kind)
			}
		})
	}
}

// TestUsageMentionsPhotoAlone: the help says what a photo alone does.
func TestUsageMentionsPhotoAlone(t *testing.T) {
	if want := "a photo alone - same as face match " + sleuth.DefaultCollection; !strings.Contains(Usage, want) {
		t.Errorf("Usage = %q, want it to contain %q", Usage, want)
	}
	for _, r := range Usage {
		if r > 0x7e || (r < 0x20 && r != '\n') {
			t.Errorf("Usage holds %q, outside printable ASCII (GSM-7)", r)
		}
	}
}

// rekognitionCollectionID and rekognitionExternalImageID are the patterns
// Rekognition documents for CollectionId and ExternalImageId.
var (
	rekognitionCollectionID    = regexp.MustCompile(`^[a-zA-Z0-9_.\-]{1,255}$`)
	rekognitionExternalImageID = regexp.MustCompile(`^[a-zA-Z0-9_.\-:]{1,255}$`)
)

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"help", "face addcol celebs", "face addimg celebs mel_gibson", "face match celebs",
		"FACE ADDIMG Celebs Mel Gibson", "face addcol célébrités", "face addcol a\xffb",
		"face\u00a0match\u2003x", "", "face", "face addimg c " + strings.Repeat("n ", 40),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		p, err := Parse(body)
		if err != nil {
			var usage *Error
			if !errors.As(err, &usage) || usage.Kind == nil || usage.Msg == "" {
				t.Fatalf("Parse(%q) error = %#v, want a *Error with a kind and a message", body, err)
			}
			if !utf8.ValidString(usage.Msg) && utf8.ValidString(body) {
				t.Fatalf("Parse(%q) error message %q is not valid UTF-8", body, usage.Msg)
			}
			return
		}
		if p.Help() {
			if p != (Parsed{}) {
				t.Fatalf("Parse(%q) = %+v: help with fields set", body, p)
			}
			return
		}
		if !rekognitionCollectionID.MatchString("crossfaas-prod-"+p.Collection) || len(p.Collection) > MaxCollectionLen {
			t.Fatalf("Parse(%q) collection %q does not make a Rekognition collection id", body, p.Collection)
		}
		if p.Collection != strings.ToLower(p.Collection) {
			t.Fatalf("Parse(%q) collection %q is not lower-case", body, p.Collection)
		}
		if p.Verb == sleuth.VerbAddImage {
			if !rekognitionExternalImageID.MatchString(p.Name) || len(p.Name) > MaxNameLen {
				t.Fatalf("Parse(%q) name %q is not a Rekognition external image id", body, p.Name)
			}
			if DisplayName(p.Name) == "" {
				t.Fatalf("Parse(%q) name %q displays as nothing", body, p.Name)
			}
		} else if p.Name != "" {
			t.Fatalf("Parse(%q) = %+v: name set for %s", body, p, p.Verb)
		}
		back, err := Parse(p.String())
		if err != nil || back != p {
			t.Fatalf("Parse(%q) = %+v but Parse(%q) = %+v, %v", body, p, p.String(), back, err)
		}
		if err := CheckMedia(p, []string{"image/png"}); err != nil {
			t.Fatalf("CheckMedia(%+v, png) = %v, want nil", p, err)
		}
	})
}
