// Reading what a request asks for: the imageUri of a GET or of a JSON or
// form POST, and the languages.

package labeler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/crossfaas/crossfaas/functions/labeler/imageuri"
)

// requestedImage returns the imageUri of r and whether one was given at
// all, or the failure to answer when the request is malformed.
func requestedImage(r *http.Request) (uri string, given bool, bad *outcome) {
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return fail(http.StatusBadRequest, "query string is malformed: "+err.Error())
	}
	uri, given, bad = single(query, "query string")
	if bad != nil {
		return "", false, bad
	}
	if r.Method == http.MethodPost {
		bodyURI, bodyGiven, bad := imageFromBody(r)
		if bad != nil {
			return "", false, bad
		}
		if bodyGiven && given {
			return fail(http.StatusBadRequest, "imageUri is given in both the query string and the body: give it once")
		}
		if bodyGiven {
			uri, given = bodyURI, true
		}
	}
	if !given {
		return "", false, nil
	}
	msg := ""
	if err := imageuri.Validate(uri); err != nil {
		msg = err.Error()
	} else if !utf8.ValidString(uri) {
		// Vision's request is a protobuf string, which must be UTF-8.
		msg = "imageUri is not valid UTF-8"
	}
	if msg != "" {
		out := failure(http.StatusBadRequest, msg)
		out.imageURI = uri // for the log line only: logged through imageuri.ForLog
		return "", false, &out
	}
	return uri, true, nil
}

// imageFromBody reads the imageUri of a POST body: JSON {"imageUri": "..."}
// or a form. An empty body carries none. r.Body is limited to MaxBodyBytes
// by ServeHTTP.
func imageFromBody(r *http.Request) (uri string, given bool, bad *outcome) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", MaxBodyBytes))
		}
		return fail(http.StatusBadRequest, "cannot read the body: "+err.Error())
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return "", false, nil
	}
	contentType := r.Header.Get("Content-Type")
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fail(http.StatusUnsupportedMediaType, unsupportedBody(contentType))
	}
	switch mediaType {
	case "application/json":
		var req struct {
			ImageURI *string `json:"imageUri"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return fail(http.StatusBadRequest, "body is not the expected JSON {\"imageUri\": \"...\"}: "+err.Error())
		}
		if _, err := dec.Token(); err != io.EOF {
			return fail(http.StatusBadRequest, "body has data after its JSON object")
		}
		if req.ImageURI == nil {
			return "", false, nil
		}
		return *req.ImageURI, true, nil
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return fail(http.StatusBadRequest, "form body is malformed: "+err.Error())
		}
		return single(form, "form body")
	default:
		return fail(http.StatusUnsupportedMediaType, unsupportedBody(mediaType))
	}
}

// single returns the one imageUri of values; where names the source in the
// error when it is given more than once.
func single(values url.Values, where string) (uri string, given bool, bad *outcome) {
	switch v := values["imageUri"]; len(v) {
	case 0:
		return "", false, nil
	case 1:
		return v[0], true, nil
	default:
		return fail(http.StatusBadRequest, fmt.Sprintf("imageUri is given %d times in the %s: give it once", len(v), where))
	}
}

func failure(status int, msg string) outcome {
	return outcome{status: status, body: ErrorResponse{Error: msg}, err: errors.New(msg)}
}

func fail(status int, msg string) (string, bool, *outcome) {
	out := failure(status, msg)
	return "", false, &out
}

// LanguagesParam is the query parameter listing the languages to translate
// the labels into, comma-separated ("es,fr,de").
const LanguagesParam = "languages"

// requestedLanguages returns the languages r asks for, checked against
// allowed when that is not empty.
func requestedLanguages(r *http.Request, allowed []string) ([]string, *outcome) {
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		out := failure(http.StatusBadRequest, "query string is malformed: "+err.Error())
		return nil, &out
	}
	values := query[LanguagesParam]
	if len(values) > 1 {
		out := failure(http.StatusBadRequest, fmt.Sprintf("%s is given %d times: give it once, comma-separated", LanguagesParam, len(values)))
		return nil, &out
	}
	if len(values) == 0 {
		return nil, nil
	}
	langs, err := ParseLanguages(values[0])
	if err != nil {
		out := failure(http.StatusBadRequest, err.Error())
		return nil, &out
	}
	if len(allowed) > 0 {
		for _, l := range langs {
			if !slices.Contains(allowed, l) {
				out := failure(http.StatusBadRequest, fmt.Sprintf("language %q is not enabled for this labeler: it translates into %s", l, strings.Join(allowed, ", ")))
				return nil, &out
			}
		}
	}
	return langs, nil
}

// unsupportedBody is the message of a POST body of an unknown Content-Type.
func unsupportedBody(contentType string) string {
	return fmt.Sprintf("Content-Type %q is not supported: send an image (%s) or application/json or application/x-www-form-urlencoded naming one",
		contentType, strings.Join(imageContentTypes(), ", "))
}
