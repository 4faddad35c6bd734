package labeler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/crossfaas/crossfaas/functions/labeler/imageuri"
	"github.com/crossfaas/crossfaas/functions/labeler/traceparent"
)

// DefaultTimeout is how long the handler waits for one annotation when
// Config.Timeout is zero. Cloud Functions cut a request at 60 s by default;
// answering 504 well before that keeps the error ours and explained.
const DefaultTimeout = 25 * time.Second

// MaxBodyBytes is the largest JSON or form POST body the handler reads; an
// image body may be up to Config.MaxImageBytes.
const MaxBodyBytes = 64 << 10

// statusClientClosedRequest is logged when the caller went away before the
// answer was ready (nginx's convention; nobody receives it).
const statusClientClosedRequest = 499

// Config is the handler's configuration; the zero value is ready to use.
type Config struct {
	// DefaultImageURI is labeled when a request carries no imageUri;
	// "" means imageuri.Default. It must pass imageuri.Validate.
	DefaultImageURI string
	// Timeout bounds one annotation and its translations; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// MaxImageBytes is the largest image a POST may carry as its body; 0
	// means DefaultMaxImageBytes.
	MaxImageBytes int64
	// Translator translates the labels into the languages a request asks
	// for (see LanguagesParam); wrap it in a TranslationCache. Nil means
	// translation is not available here: labels come untranslated, with
	// TranslationNote saying why.
	Translator Translator
	// TranslationNote explains, in replies that asked for languages, why
	// Translator is nil; "" means a generic note.
	TranslationNote string
	// Languages, when not empty, are the only languages requests may ask
	// for (others get 400): what the stack enabled, so that nobody runs up
	// the Translation bill in other languages.
	Languages []string
	// TranslationEngine names the Translator in replies; "" means
	// EngineCloudTranslation.
	TranslationEngine string
}

// EngineCloudTranslation is the default Response.TranslationEngine.
const EngineCloudTranslation = "cloud-translation"

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
	if c.MaxImageBytes < 0 {
		return fmt.Errorf("labeler config: image limit %d is negative", c.MaxImageBytes)
	}
	for _, l := range c.Languages {
		if _, err := ParseLanguages(l); err != nil || strings.Contains(l, ",") {
			return fmt.Errorf("labeler config: language %q is not a language code", l)
		}
	}
	return nil
}

// Response is the JSON body of a successful reply: the Annotation's fields
// merged with the image that was labeled (ImageURI, or Image for one sent
// as bytes) and, when languages were asked for, the translation's.
type Response struct {
	ImageURI     string     `json:"imageUri,omitempty"`
	Image        *ImageInfo `json:"image,omitempty"`
	DefaultImage bool       `json:"defaultImage"`
	Note         string     `json:"note,omitempty"` // set only when DefaultImage
	*Annotation
	// Languages are the languages asked for; each label's Translations has
	// them all, unless TranslationNote says why not.
	Languages         []string `json:"languages,omitempty"`
	TranslationEngine string   `json:"translationEngine,omitempty"`
	TranslationNote   string   `json:"translationNote,omitempty"`
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
	if cfg.MaxImageBytes == 0 {
		cfg.MaxImageBytes = DefaultMaxImageBytes
	}
	if cfg.TranslationEngine == "" {
		cfg.TranslationEngine = EngineCloudTranslation
	}
	if cfg.TranslationNote == "" {
		cfg.TranslationNote = "translation is not available here: the labels are not translated"
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &handler{annotator: a, cfg: cfg, logger: logger}
}

type handler struct {
	annotator Annotator
	cfg       Config
	logger    *slog.Logger
}

// outcome is everything one request produced: the reply and what to log.
type outcome struct {
	status    int
	body      any
	imageURI  string
	image     *ImageInfo // an image sent as bytes
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
	limit := int64(MaxBodyBytes)
	if isImageBody(r) {
		limit = h.cfg.MaxImageBytes
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
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
	langs, bad := requestedLanguages(r, h.cfg.Languages)
	if bad != nil {
		return *bad
	}
	var (
		out     outcome
		content []byte
	)
	if isImageBody(r) {
		if query, _ := url.ParseQuery(r.URL.RawQuery); query.Has("imageUri") {
			return failure(http.StatusBadRequest, "imageUri is given with an image body: send one or the other")
		}
		data, info, bad := readImage(r, h.cfg.MaxImageBytes)
		if bad != nil {
			return *bad
		}
		content, out.image = data, info
	} else {
		uri, given, bad := requestedImage(r)
		if bad != nil {
			return *bad
		}
		out.imageURI = uri
		if !given {
			out.imageURI, out.isDefault = h.cfg.DefaultImageURI, true
		}
	}

	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
	defer cancel()
	var (
		ann *Annotation
		err error
	)
	if content != nil {
		ann, err = h.annotator.AnnotateContent(ctx, content)
	} else {
		ann, err = h.annotator.Annotate(ctx, out.imageURI)
	}
	translation := ""
	if err == nil && ann != nil {
		ann, translation, err = h.translate(ctx, ann, langs)
	}
	errBody := ErrorResponse{ImageURI: out.imageURI}
	switch {
	case err == nil && ann == nil:
		err = errors.New("annotator returned no annotation and no error")
		errBody.Error = "image analysis failed upstream"
		out.status, out.body = http.StatusBadGateway, errBody
	case err == nil:
		resp := Response{ImageURI: out.imageURI, Image: out.image, DefaultImage: out.isDefault, Annotation: ann, Languages: langs}
		if out.isDefault {
			resp.Note = "no imageUri given; labeled the default image " + out.imageURI
		}
		if len(langs) > 0 && translation == "" {
			resp.TranslationEngine = h.cfg.TranslationEngine
		}
		resp.TranslationNote = translation
		out.status, out.body, out.labels = http.StatusOK, resp, len(ann.Labels)
	case errors.Is(err, ErrUnusableImage) && out.isDefault:
		// The caller asked for nothing; a default nobody can analyse is ours to fix.
		errBody.Error = "the default image cannot be analysed"
		out.status, out.body = http.StatusInternalServerError, errBody
	case errors.Is(err, ErrUnusableImage):
		errBody.Error = err.Error()
		out.status, out.body = http.StatusUnprocessableEntity, errBody
	case errors.Is(r.Context().Err(), context.Canceled):
		errBody.Error = "request cancelled"
		out.status, out.body = statusClientClosedRequest, errBody
	case errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded:
		errBody.Error = fmt.Sprintf("image analysis did not finish within %v", h.cfg.Timeout)
		out.status, out.body = http.StatusGatewayTimeout, errBody
	default:
		errBody.Error = "image analysis failed upstream"
		if errors.Is(err, errTranslation) {
			errBody.Error = "translating the labels failed upstream"
		}
		if s, ok := status.FromError(err); ok {
			errBody.Error += " (" + s.Code().String() + ")"
		}
		out.status, out.body = http.StatusBadGateway, errBody
	}
	out.err = err
	return out
}

// errTranslation marks a failed translation in detect's error.
var errTranslation = errors.New("translation")

// translate returns a copy of ann whose labels are translated into langs,
// or, without a Translator, ann itself and the note saying why not.
func (h *handler) translate(ctx context.Context, ann *Annotation, langs []string) (*Annotation, string, error) {
	reply := *ann
	if reply.Labels == nil {
		reply.Labels = []Label{}
	}
	if len(langs) == 0 {
		return &reply, "", nil
	}
	if h.cfg.Translator == nil {
		return &reply, h.cfg.TranslationNote, nil
	}
	reply.Labels = slices.Clone(reply.Labels)
	if err := translateLabels(ctx, h.cfg.Translator, reply.Labels, langs); err != nil {
		return nil, "", fmt.Errorf("%w: %w", errTranslation, err)
	}
	return &reply, "", nil
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
	if out.image != nil {
		attrs = append(attrs, slog.String("imageFormat", out.image.Format), slog.Int("imageBytes", out.image.Bytes))
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
