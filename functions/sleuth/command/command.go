// Package command parses the text of an SMS sent to CelebritySleuth into a
// command, and explains every mistake in words fit for an SMS reply.
//
// The grammar, case-insensitive, with any amount of whitespace between words:
//
//	face addcol <collection>
//	face addimg <collection> <first_last>   (+ one JPEG or PNG image)
//	face match <collection>                 (+ one JPEG or PNG image)
//	help
//
// and a photo sent without text means "face match celebs" (the stage's
// sleuth.DefaultCollection): see ParseMessage.
//
// Collections are lower-cased; names keep the case the user typed, so
// "Ronald_McDonald" is displayed and looked up as "Ronald McDonald".
package command

import (
	"errors"
	"mime"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

// MaxCollectionLen and MaxNameLen are the longest collection and person names
// accepted, in bytes (all accepted characters are ASCII). Rekognition allows
// 255 for both ids; the collection limit leaves room for the
// "<project>-<stack>-" prefix handlers add.
const (
	MaxCollectionLen = 64
	MaxNameLen       = 64
)

// Usage is the help text sent for "help" and after an unknown command. It is
// plain ASCII so it fits the GSM-7 SMS alphabet.
const Usage = `CelebritySleuth commands:
face addcol <collection> - create a collection
face addimg <collection> <first_last> + photo - add a face
face match <collection> + photo - who is this?
a photo alone - same as face match celebs
help - this message`

// Parsed is a well-formed command. The zero Verb means the user asked for
// help.
type Parsed struct {
	Verb       sleuth.Verb // VerbAddCollection, VerbAddImage, VerbMatch, or "" for help
	Collection string      // lower-cased, [a-z0-9_.-]{1,64}; empty for help
	Name       string      // "first_last" as typed, [A-Za-z0-9_.-]{1,64}; only for addimg
}

// Help reports whether p is the help command.
func (p Parsed) Help() bool { return p.Verb == "" }

// NeedsImage reports whether the command must come with exactly one image.
func (p Parsed) NeedsImage() bool {
	return p.Verb == sleuth.VerbAddImage || p.Verb == sleuth.VerbMatch
}

// String returns the canonical text of the command; Parse(p.String())
// returns p.
func (p Parsed) String() string {
	switch p.Verb {
	case "":
		return "help"
	case sleuth.VerbAddImage:
		return "face addimg " + p.Collection + " " + p.Name
	default:
		return "face " + string(p.Verb) + " " + p.Collection
	}
}

// Kinds of usage errors, for errors.Is. Every error Parse and CheckMedia
// return wraps exactly one of them.
var (
	ErrEmpty             = errors.New("empty message")
	ErrUnknownCommand    = errors.New("unknown command")
	ErrMissingCollection = errors.New("missing collection")
	ErrBadCollection     = errors.New("invalid collection name")
	ErrMissingName       = errors.New("missing name")
	ErrBadName           = errors.New("invalid name")
	ErrTooManyWords      = errors.New("too many words")
	ErrMissingImage      = errors.New("missing image")
	ErrTooManyImages     = errors.New("too many images")
	ErrImageType         = errors.New("image type not supported")
)

// Error is a usage mistake. Error() is the whole SMS reply for it: what is
// wrong and how to write the command instead.
type Error struct {
	Kind error  // one of the Err* variables of this package
	Msg  string // the reply, for the user
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns e.Kind.
func (e *Error) Unwrap() error { return e.Kind }

func usageError(kind error, msg string) error { return &Error{Kind: kind, Msg: msg} }

// The syntax of each command, quoted in the errors about it.
const (
	syntaxAddCollection = "face addcol <collection>"
	syntaxAddImage      = "face addimg <collection> <first_last> + photo"
	syntaxMatch         = "face match <collection> + photo"
)

func syntaxOf(v sleuth.Verb) string {
	switch v {
	case sleuth.VerbAddCollection:
		return syntaxAddCollection
	case sleuth.VerbAddImage:
		return syntaxAddImage
	default:
		return syntaxMatch
	}
}

// Parse parses the body of an SMS. Words are separated by any Unicode
// whitespace; "face", the verb and "help" are case-insensitive. For addimg,
// words after the collection are joined with "_", so "Mel Gibson" is
// accepted as "Mel_Gibson". Anything after "help" is ignored. Errors are
// *Error.
func Parse(body string) (Parsed, error) {
	words := strings.Fields(body)
	if len(words) == 0 {
		return Parsed{}, usageError(ErrEmpty, "Your message was empty.\n"+Usage)
	}
	switch strings.ToLower(words[0]) {
	case "help", "?":
		return Parsed{}, nil
	case "face":
	default:
		return Parsed{}, usageError(ErrUnknownCommand,
			"Sorry, I don't know "+quote(words[0])+".\n"+Usage)
	}
	if len(words) == 1 {
		return Parsed{}, usageError(ErrUnknownCommand,
			"What should I do with faces? Use addcol, addimg or match.\n"+Usage)
	}
	var verb sleuth.Verb
	switch strings.ToLower(words[1]) {
	case string(sleuth.VerbAddCollection):
		verb = sleuth.VerbAddCollection
	case string(sleuth.VerbAddImage):
		verb = sleuth.VerbAddImage
	case string(sleuth.VerbMatch):
		verb = sleuth.VerbMatch
	case "help":
		return Parsed{}, nil
	default:
		return Parsed{}, usageError(ErrUnknownCommand,
			"Sorry, I don't know \"face "+clip(words[1])+"\". Use addcol, addimg or match.\n"+Usage)
	}
	if len(words) == 2 {
		return Parsed{}, usageError(ErrMissingCollection,
			"Which collection? Send: "+syntaxOf(verb))
	}
	collection, err := parseCollection(words[2], verb)
	if err != nil {
		return Parsed{}, err
	}
	p := Parsed{Verb: verb, Collection: collection}
	rest := words[3:]
	if verb != sleuth.VerbAddImage {
		if len(rest) > 0 {
			return Parsed{}, usageError(ErrTooManyWords,
				"Too many words after the collection name. Send: "+syntaxOf(verb))
		}
		return p, nil
	}
	if len(rest) == 0 {
		return Parsed{}, usageError(ErrMissingName,
			"Whose face is it? Send: "+syntaxAddImage+", e.g. face addimg "+collection+" mel_gibson")
	}
	name, err := parseName(strings.Join(rest, "_"))
	if err != nil {
		return Parsed{}, err
	}
	p.Name = name
	return p, nil
}

// ParseMessage parses an SMS, its text body and the media types of its
// attachments (MediaContentType0, MediaContentType1, ... as Twilio reports
// them), and checks the attachments suit the command (CheckMedia). It is
// what the webhook handler answers by. A message with attachments and no
// text is "face match" on sleuth.DefaultCollection: someone texting a
// photo alone most likely asks who it is. Errors are *Error.
func ParseMessage(body string, contentTypes []string) (Parsed, error) {
	if len(strings.Fields(body)) == 0 && len(contentTypes) > 0 {
		p := Parsed{Verb: sleuth.VerbMatch, Collection: sleuth.DefaultCollection}
		return p, CheckMedia(p, contentTypes)
	}
	p, err := Parse(body)
	if err != nil {
		return Parsed{}, err
	}
	if err := CheckMedia(p, contentTypes); err != nil {
		return Parsed{}, err
	}
	return p, nil
}

// parseCollection validates and lower-cases a collection name.
func parseCollection(word string, verb sleuth.Verb) (string, error) {
	if len(word) > MaxCollectionLen {
		return "", usageError(ErrBadCollection,
			"That collection name is too long: 64 characters at most. Send: "+syntaxOf(verb))
	}
	if r, ok := firstInvalid(word); ok {
		return "", usageError(ErrBadCollection,
			"Collection names may only use letters, digits, _ - and . (not "+quoteRune(r)+"). Send: "+syntaxOf(verb))
	}
	return strings.ToLower(word), nil
}

// parseName validates a person's name, "first_last".
func parseName(name string) (string, error) {
	if len(name) > MaxNameLen {
		return "", usageError(ErrBadName,
			"That name is too long: 64 characters at most. Send: "+syntaxAddImage)
	}
	if r, ok := firstInvalid(name); ok {
		return "", usageError(ErrBadName,
			"Names may only use letters a-z, digits, _ - and . (not "+quoteRune(r)+"), e.g. mel_gibson. Send: "+syntaxAddImage)
	}
	if !strings.ContainsFunc(name, isASCIILetter) {
		return "", usageError(ErrBadName, "A name needs letters, e.g. mel_gibson. Send: "+syntaxAddImage)
	}
	return name, nil
}

// firstInvalid returns the first rune of s outside [A-Za-z0-9_.-].
func firstInvalid(s string) (rune, bool) {
	for _, r := range s {
		if !validIDRune(r) {
			return r, true
		}
	}
	return 0, false
}

func validIDRune(r rune) bool {
	return isASCIILetter(r) || '0' <= r && r <= '9' || r == '_' || r == '-' || r == '.'
}

func isASCIILetter(r rune) bool { return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' }

// DisplayName turns a "first_last" name into the words people write:
// "mel_gibson" -> "Mel Gibson", "jean-luc_picard" -> "Jean-Luc Picard",
// "Ronald_McDonald" -> "Ronald McDonald". The first letter of every part
// (split at "_" and "-") is upper-cased and the rest is kept as typed;
// repeated or outer underscores collapse.
func DisplayName(name string) string {
	words := strings.FieldsFunc(name, func(r rune) bool { return r == '_' })
	for i, w := range words {
		parts := strings.Split(w, "-")
		for j, p := range parts {
			parts[j] = upperFirst(p)
		}
		words[i] = strings.Join(parts, "-")
	}
	return strings.Join(words, " ")
}

func upperFirst(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 || r == utf8.RuneError {
		return s
	}
	return strings.ToUpper(string(r)) + s[size:]
}

// Images accepted for addimg and match, by media type.
var imageTypes = map[string]bool{"image/jpeg": true, "image/png": true}

// CheckMedia reports whether the attachments of an SMS suit command p:
// addimg and match need exactly one JPEG or PNG image; other commands ignore
// attachments. contentTypes are the media types Twilio reported
// (MediaContentType0, MediaContentType1, ...). Errors are *Error.
func CheckMedia(p Parsed, contentTypes []string) error {
	if !p.NeedsImage() {
		return nil
	}
	switch {
	case len(contentTypes) == 0:
		return usageError(ErrMissingImage,
			"Please attach a photo of the face (JPEG or PNG). Send: "+syntaxOf(p.Verb))
	case len(contentTypes) > 1:
		return usageError(ErrTooManyImages,
			"Please attach only one photo, with one face. Send: "+syntaxOf(p.Verb))
	}
	mediaType, _, err := mime.ParseMediaType(contentTypes[0])
	if err != nil || !imageTypes[mediaType] {
		return usageError(ErrImageType,
			"Sorry, I can only read JPEG or PNG photos. Send: "+syntaxOf(p.Verb))
	}
	return nil
}

// quote returns the user's word in double quotes, clipped.
func quote(word string) string { return `"` + clip(word) + `"` }

// clip shortens what the user typed before it is echoed in a reply, keeping
// replies short; it never splits a rune.
func clip(s string) string {
	const max = 20
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	runes := []rune(s)
	return string(runes[:max]) + "..."
}

// quoteRune names a character the user typed, readable even for invisible
// ones.
func quoteRune(r rune) string {
	switch {
	case r == utf8.RuneError:
		return "an unreadable character"
	case !unicode.IsGraphic(r) || unicode.Is(unicode.Cf, r):
		return "an invisible character"
	default:
		return `"` + string(r) + `"`
	}
}
