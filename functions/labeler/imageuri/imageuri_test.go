package imageuri

import (
	"net/url"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	longest := "https://example.com/" + strings.Repeat("a", MaxLength-len("https://example.com/"))
	tests := []struct {
		name string
		raw  string
		want string // "" means accepted
	}{
		{name: "default", raw: Default},
		{name: "gs object", raw: "gs://crossfaas-dev-images/photos/cat.jpg"},
		{name: "gs nested object", raw: "gs://bucket/a/b/c.png"},
		{name: "https", raw: "https://example.com/cat.jpg"},
		{name: "http", raw: "http://example.com/cat.jpg"},
		{name: "https with query and fragment", raw: "https://example.com/img?id=42&size=l#top"},
		{name: "https with port", raw: "https://example.com:8443/cat.jpg"},
		{name: "ipv6 host", raw: "http://[::1]:8080/cat.jpg"},
		{name: "upper-case scheme", raw: "HTTPS://example.com/cat.jpg"},
		{name: "mixed-case gs", raw: "Gs://bucket/o.jpg"},
		{name: "percent-encoded space", raw: "https://example.com/a%20cat.jpg"},
		{name: "unicode host", raw: "https://bücher.example/cat.jpg"},
		{name: "https without path", raw: "https://example.com"},
		{name: "exactly the limit", raw: longest},

		{name: "empty", raw: "", want: "imageUri is empty"},
		{name: "one byte over the limit", raw: longest + "a", want: "imageUri is 2049 bytes long, the limit is 2048"},
		{name: "far over the limit", raw: strings.Repeat("x", 10000), want: "imageUri is 10000 bytes long, the limit is 2048"},
		{name: "space inside", raw: "https://example.com/a cat.jpg", want: "imageUri contains whitespace or control characters"},
		{name: "leading space", raw: " https://example.com/cat.jpg", want: "imageUri contains whitespace or control characters"},
		{name: "trailing newline", raw: "https://example.com/cat.jpg\n", want: "imageUri contains whitespace or control characters"},
		{name: "tab", raw: "gs://b/\to.jpg", want: "imageUri contains whitespace or control characters"},
		{name: "NUL", raw: "gs://b/o\x00.jpg", want: "imageUri contains whitespace or control characters"},
		{name: "DEL", raw: "gs://b/o\x7f.jpg", want: "imageUri contains whitespace or control characters"},
		{name: "invalid UTF-8", raw: "https://example.com/\xff.jpg", want: "imageUri is not valid UTF-8"},
		{name: "no-break space", raw: "https://example.com/a\u00a0cat.jpg", want: "imageUri contains whitespace or control characters"},
		{name: "next line U+0085", raw: "https://example.com/a\u0085.jpg", want: "imageUri contains whitespace or control characters"},
		{name: "line separator U+2028", raw: "https://example.com/a\u2028.jpg", want: "imageUri contains whitespace or control characters"},
		{name: "port without host", raw: "https://:80/a.jpg", want: "imageUri has no host (or bucket, for gs://)"},
		{name: "only whitespace", raw: "   ", want: "imageUri contains whitespace or control characters"},
		{name: "bad percent escape", raw: "https://example.com/%zz.jpg", want: "imageUri is not a valid URL"},
		{name: "bad port", raw: "https://example.com:port/cat.jpg", want: "imageUri is not a valid URL"},
		{name: "missing scheme before colon", raw: "://example.com/cat.jpg", want: "imageUri is not a valid URL"},
		{name: "unclosed ipv6", raw: "http://[::1/cat.jpg", want: "imageUri is not a valid URL"},
		{name: "no scheme", raw: "example.com/cat.jpg", want: "imageUri must be an absolute URL starting with http://, https:// or gs://"},
		{name: "protocol-relative", raw: "//example.com/cat.jpg", want: "imageUri must be an absolute URL starting with http://, https:// or gs://"},
		{name: "relative path", raw: "/cat.jpg", want: "imageUri must be an absolute URL starting with http://, https:// or gs://"},
		{name: "ftp", raw: "ftp://example.com/cat.jpg", want: `imageUri scheme "ftp" is not allowed: use http, https or gs`},
		{name: "file", raw: "file:///etc/passwd", want: `imageUri scheme "file" is not allowed: use http, https or gs`},
		{name: "data", raw: "data:image/png;base64,iVBORw0KGgo=", want: `imageUri scheme "data" is not allowed: use http, https or gs`},
		{name: "javascript", raw: "javascript:alert(1)", want: `imageUri scheme "javascript" is not allowed: use http, https or gs`},
		{name: "s3", raw: "s3://bucket/key.jpg", want: `imageUri scheme "s3" is not allowed: use http, https or gs`},
		{name: "empty host", raw: "https:///cat.jpg", want: "imageUri has no host (or bucket, for gs://)"},
		{name: "opaque http", raw: "http:example.com/cat.jpg", want: "imageUri has no host (or bucket, for gs://)"},
		{name: "scheme only", raw: "https://", want: "imageUri has no host (or bucket, for gs://)"},
		{name: "gs without bucket", raw: "gs:///o.jpg", want: "imageUri has no host (or bucket, for gs://)"},
		{name: "user and password", raw: "https://user:secret@example.com/cat.jpg", want: "imageUri must not carry credentials"},
		{name: "user only", raw: "https://user@example.com/cat.jpg", want: "imageUri must not carry credentials"},
		{name: "gs bucket only", raw: "gs://bucket", want: "imageUri gs:// URL names a bucket but no object"},
		{name: "gs bucket slash", raw: "gs://bucket/", want: "imageUri gs:// URL names a bucket but no object"},
		{name: "gs bucket slashes", raw: "gs://bucket///", want: "imageUri gs:// URL names a bucket but no object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if err := Validate(tt.raw); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate(%.80q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

func TestDefaultIsValid(t *testing.T) {
	if err := Validate(Default); err != nil {
		t.Errorf("Validate(%q) = %q, want nil", Default, err)
	}
}

// FuzzValidate checks the properties every accepted URI has, whatever the
// input: Validate never panics, and when it accepts raw, raw is a short,
// printable, absolute http, https or gs URL with a host and no credentials.
// Rejections always explain themselves in words that name imageUri.
func FuzzValidate(f *testing.F) {
	// More seeds are in testdata/fuzz/FuzzValidate.
	for _, s := range []string{Default, "https://example.com/a.jpg", "", "gs://b", "ftp://x/y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := Validate(raw)
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "imageUri ") {
				t.Errorf("Validate(%q) = %q, want a message starting with %q", raw, msg, "imageUri ")
			}
			if Validate(raw) == nil {
				t.Errorf("Validate(%q) is not deterministic", raw)
			}
			return
		}
		if len(raw) > MaxLength {
			t.Errorf("Validate(%q) = nil for %d bytes, limit %d", raw, len(raw), MaxLength)
		}
		if i := strings.IndexFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }); i >= 0 {
			t.Errorf("Validate(%q) = nil with an ASCII space or control character at %d", raw, i)
		}
		u, perr := url.Parse(raw)
		if perr != nil {
			t.Fatalf("Validate(%q) = nil but url.Parse fails: %v", raw, perr)
		}
		scheme := strings.ToLower(u.Scheme)
		if scheme != "http" && scheme != "https" && scheme != "gs" {
			t.Errorf("Validate(%q) = nil with scheme %q", raw, u.Scheme)
		}
		if u.Host == "" {
			t.Errorf("Validate(%q) = nil without a host", raw)
		}
		if u.User != nil {
			t.Errorf("Validate(%q) = nil with credentials", raw)
		}
		if scheme == "gs" && strings.Trim(u.Path, "/") == "" {
			t.Errorf("Validate(%q) = nil for a gs:// URL without an object", raw)
		}
	})
}

func TestForLog(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{name: "plain gs", raw: Default, want: Default},
		{name: "plain https", raw: "https://example.com/a/cat.jpg", want: "https://example.com/a/cat.jpg"},
		{name: "presigned query", raw: "https://bucket.s3.amazonaws.com/cat.jpg?X-Amz-Signature=abc&X-Amz-Credential=AKIA", want: "https://bucket.s3.amazonaws.com/cat.jpg?…"},
		{name: "fragment", raw: "https://example.com/cat.jpg#token=abc", want: "https://example.com/cat.jpg#…"},
		{name: "user info", raw: "https://user:secret@example.com/cat.jpg", want: "https://example.com/cat.jpg"},
		{name: "empty", raw: "", want: ""},
		{name: "long", raw: "https://example.com/" + strings.Repeat("a", 300) + ".jpg?sig=x", want: "https://example.com/" + strings.Repeat("a", 236) + "…?…"},
		{name: "long, cut inside an escape", raw: "https://example.com/" + strings.Repeat("a", 235) + "é" + strings.Repeat("b", 40), want: "https://example.com/" + strings.Repeat("a", 235) + "…"},
		{name: "unparsable", raw: "https://example.com/%zz", want: `unparsed:"https://example.com/%zz"`},
		{name: "unparsable and long", raw: "%zz" + strings.Repeat("a", 100), want: `unparsed:"%zz` + strings.Repeat("a", 61) + `…"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ForLog(tt.raw); got != tt.want {
				t.Errorf("ForLog(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}
