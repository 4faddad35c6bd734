// Package imageuri holds the one rule for which image URIs crossfaas accepts.
// The labeler (Cloud Function) and the proxy (Lambda) both validate with it,
// so a URI the proxy lets through is never refused by the labeler.
package imageuri

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxLength is the longest image URI accepted, in bytes.
const MaxLength = 2048

// Default is the image labeled when a caller gives no imageUri. It is a
// public object of Google's sample bucket, stable for years (the seed's
// goo.gl links are dead).
const Default = "gs://cloud-samples-data/vision/label/wakeupcat.jpg"

// Validate reports whether raw is an image URI crossfaas accepts: an
// absolute http, https or gs URL with a host (a bucket for gs), at most
// MaxLength bytes, valid UTF-8 without whitespace or control characters. The error
// explains the problem in words fit for an API caller. Validate("") is an
// error: callers decide themselves whether an absent URI means Default.
func Validate(raw string) error {
	if raw == "" {
		return errors.New("imageUri is empty")
	}
	if len(raw) > MaxLength {
		return fmt.Errorf("imageUri is %d bytes long, the limit is %d", len(raw), MaxLength)
	}
	if !utf8.ValidString(raw) {
		return errors.New("imageUri is not valid UTF-8")
	}
	if strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return errors.New("imageUri contains whitespace or control characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("imageUri is not a valid URL")
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "gs":
	case "":
		return errors.New("imageUri must be an absolute URL starting with http://, https:// or gs://")
	default:
		return fmt.Errorf("imageUri scheme %q is not allowed: use http, https or gs", u.Scheme)
	}
	if u.Hostname() == "" {
		return errors.New("imageUri has no host (or bucket, for gs://)")
	}
	if u.User != nil {
		return errors.New("imageUri must not carry credentials")
	}
	if strings.EqualFold(u.Scheme, "gs") && strings.Trim(u.Path, "/") == "" {
		return errors.New("imageUri gs:// URL names a bucket but no object")
	}
	return nil
}

// maxLogLength bounds what ForLog returns for a URL, in bytes.
const maxLogLength = 256

// ForLog returns raw fit for a log line: a URL's query and fragment, which
// may carry credentials (signed and presigned URLs), are replaced by "?…"
// and "#…"; user information is dropped; the rest is cut to 256 bytes, not
// inside a character or a percent escape, marked by "…". A string that does not parse as a URL
// is cut to 64 bytes and marked as such, so logs never hold whole
// unvalidated input.
func ForLog(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || !utf8.ValidString(raw) {
		if len(raw) > 64 {
			raw = strings.ToValidUTF8(raw[:64], "") + "…"
		}
		return fmt.Sprintf("unparsed:%q", raw)
	}
	hasQuery, hasFragment := u.RawQuery != "" || u.ForceQuery, u.Fragment != ""
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	s := u.String()
	if len(s) > maxLogLength {
		n := maxLogLength
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		// Nor inside a percent escape, which String writes for non-ASCII.
		if i := strings.LastIndexByte(s[:n], '%'); i >= 0 && i > n-3 {
			n = i
		}
		s = s[:n] + "…"
	}
	if hasQuery {
		s += "?…"
	}
	if hasFragment {
		s += "#…"
	}
	return s
}
