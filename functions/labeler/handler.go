package labeler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/crossfaas/crossfaas/functions/labeler/imageuri"
	"github.com/crossfaas/crossfaas/functions/labeler/traceparent"
)

// DefaultTimeout is how long the handler waits for one annotation when
// Config.Timeout is zero. Cloud Functions cut a request at 60 s by default;
// answering 504 well before that keeps the error ours and explained.
const DefaultTimeout = 25 * time.Second

// MaxBodyBytes is the largest POST body the handler reads.
const MaxBodyBytes = 64 << 10

// statusClientClosedRequest is logged when the caller went away before the
// answer was ready (nginx's convention; nobody receives it).
const statusClientClosedRequest = 499

// Config is the handler's configuration; the zero value is ready to use.
type Config struct {
	// DefaultImageURI is labeled when a request carries no imageUri;
	// "" means imageuri.Default. It must pass imageuri.Validate.
	DefaultImageURI string
	// Timeout bounds one annotation; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Validate reports whether c is usable by NewHandler.
func (c Config) Validate() error {
	if c.DefaultImageURI != "" {
		if err := imageuri.Validate(c.DefaultImageURI); err != nil {
			return fmt.Errorf("labeler config: default image: %w", err)
		}
	}
	if c.Timeout < 0 {
		return fmt.Errorf("labeler config: timeout %v is negative", c.Timeout)
	}
	return nil
}

// Response is the JSON body of a successful reply: the Annotation's fields
// merged with the image that was labeled.
type Response struct {
	ImageURI     string `json:"imageUri"`
	DefaultImage bool   `json:"defaultImage"`
	Note         string `json:"note,omitempty"` // set only when DefaultImage
	*Annotation
}

// ErrorResponse is the JSON body of every error reply. ImageURI is set when
// the request got as far as choosing an image.
type ErrorResponse struct {
	Error    string `json:"error"`
	ImageURI string `json:"imageUri,omitempty"`
}

// NewHandler returns the HTTP handler of the labeler: it reads the imageUri
// of a GET or POST request, labels the image with a and answers JSON. It
// logs one line per request to logger (nil means slog.Default()) and turns a
// panic into a 500 reply. NewHandler panics if a is nil or cfg is invalid
// (see Config.Validate): both are programming errors found at start-up.
func NewHandler(a Annotator, cfg Config, logger *slog.Logger) http.Handler {
	if a == nil {
		panic("labeler: NewHandler: nil Annotator")
	}
	if err := cfg.Validate(); err != nil {
		panic("labeler: NewHandler: " + err.Error())
	}
	if cfg.DefaultImageURI == "" {
		cfg.DefaultImageURI = imageuri.Default
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &handler{annotator: a, defaultURI: cfg.DefaultImageURI, timeout: cfg.Timeout, logger: logger}
}

type handler struct {
	annotator  Annotator
	defaultURI string
	timeout    time.Duration
	logger     *slog.Logger
}

// outcome is everything one request produced: the reply and what to log.
type outcome struct {
	status    int
	body      any
	imageURI  string
	isDefault bool
	labels    int
	err       error // logged, never sent as is
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var out outcome
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			out = outcome{
				status: http.StatusInternalServerError,
				body:   ErrorResponse{Error: "internal error"},
				err:    fmt.Errorf("panic: %v\n%s", p, debug.Stack()),
			}
			writeJSON(w, out.status, out.body)
		}
		h.log(r, out, time.Since(start))
	}()
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	out = h.detect(r)
	if out.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", "GET, POST")
	}
	writeJSON(w, out.status, out.body)
}

// detect does the work of one request without writing anything, so that a
// panic can still be answered with a clean 500.
func (h *handler) detect(r *http.Request) outcome {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return failure(http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed: use GET or POST", r.Method))
	}
	uri, given, bad := requestedImage(r)
	if bad != nil {
		return *bad
	}
	out := outcome{imageURI: uri}
	if !given {
		out.imageURI, out.isDefault = h.defaultURI, true
	}

	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	ann, err := h.annotator.Annotate(ctx, out.imageURI)
	switch {
	case err == nil && ann == nil:
		err = errors.New("annotator returned no annotation and no error")
		out.status, out.body = http.StatusBadGateway, ErrorResponse{Error: "image analysis failed upstream", ImageURI: out.imageURI}
	case err == nil:
		reply := *ann
		if reply.Labels == nil {
			reply.Labels = []Label{}
		}
		resp := Response{ImageURI: out.imageURI, DefaultImage: out.isDefault, Annotation: &reply}
		if out.isDefault {
			resp.Note = "no imageUri given; labeled the default image " + out.imageURI
		}
		out.status, out.body, out.labels = http.StatusOK, resp, len(reply.Labels)
	case errors.Is(err, ErrUnusableImage) && out.isDefault:
		// The caller asked for nothing; a default nobody can analyse is ours to fix.
		out.status, out.body = http.StatusInternalServerError, ErrorResponse{Error: "the default image cannot be analysed", ImageURI: out.imageURI}
	case errors.Is(err, ErrUnusableImage):
		out.status, out.body = http.StatusUnprocessableEntity, ErrorResponse{Error: err.Error(), ImageURI: out.imageURI}
	case errors.Is(r.Context().Err(), context.Canceled):
		out.status, out.body = statusClientClosedRequest, ErrorResponse{Error: "request cancelled", ImageURI: out.imageURI}
	case errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded:
		out.status, out.body = http.StatusGatewayTimeout, ErrorResponse{
			Error:    fmt.Sprintf("image analysis did not finish within %v", h.timeout),
			ImageURI: out.imageURI,
		}
	default:
		msg := "image analysis failed upstream"
		if s, ok := status.FromError(err); ok {
			msg += " (" + s.Code().String() + ")"
		}
		out.status, out.body = http.StatusBadGateway, ErrorResponse{Error: msg, ImageURI: out.imageURI}
	}
	out.err = err
	return out
}

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
		return fail(http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q is not supported: send application/json or application/x-www-form-urlencoded", contentType))
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
		return fail(http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q is not supported: send application/json or application/x-www-form-urlencoded", mediaType))
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

func (h *handler) log(r *http.Request, out outcome, latency time.Duration) {
	level := slog.LevelInfo
	if out.status >= 500 {
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("imageUri", imageuri.ForLog(out.imageURI)),
		slog.Bool("defaultImage", out.isDefault),
		slog.Int("status", out.status),
		slog.Float64("latencyMs", float64(latency.Microseconds())/1000),
		slog.Int("labels", out.labels),
	}
	if out.err != nil {
		attrs = append(attrs, slog.String("error", out.err.Error()))
	}
	// The trace the proxy started (or Google's front end, for a call from
	// elsewhere): crossfaas logs correlates the two clouds' lines by it.
	if id, ok := traceparent.TraceID(r.Header.Get(traceparent.Header)); ok {
		attrs = append(attrs, slog.String("traceId", id))
	}
	h.logger.LogAttrs(r.Context(), level, "detect", attrs...)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		// Only our own types are encoded here; this cannot happen.
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"internal error"}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
