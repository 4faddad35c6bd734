package labeler

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Environment variables of the registered function.
const (
	// EnvVisionEndpoint points the Vision client at a fake or an emulator
	// (host:port, plain gRPC, no auth).
	EnvVisionEndpoint = "LABELER_VISION_ENDPOINT"
	// EnvTranslationEndpoint points the Translation client at a fake or an
	// emulator (host:port, plain gRPC, no auth).
	EnvTranslationEndpoint = "LABELER_TRANSLATION_ENDPOINT"
	// EnvLanguages lists the languages requests may ask for
	// (comma-separated, the stack's crossfaas:labelLanguages); unset or
	// empty turns translation off.
	EnvLanguages = "LABELER_LANGUAGES"
	// EnvProject is the Google Cloud project whose Cloud Translation is
	// used; the stack sets it.
	EnvProject = "GOOGLE_CLOUD_PROJECT"
	// EnvMaxImageBytes is the largest image body in bytes (the stack's
	// crossfaas:uploadMaxMiB); unset means DefaultMaxImageBytes.
	EnvMaxImageBytes = "LABELER_MAX_IMAGE_BYTES"
)

// detectFunction is the Cloud Function: the handler is built on the first
// request, so importing the package (crossfaas dev does) neither reads the
// environment nor looks for credentials.
var detectFunction = newFunction(os.Getenv, newCloudLogger(os.Stdout))

func init() {
	functions.HTTP("Detect", detectFunction.ServeHTTP)
}

// function builds its handler once, on first use, from the environment.
type function struct {
	handler func() (http.Handler, error)
	logger  *slog.Logger
}

func newFunction(getenv func(string) string, logger *slog.Logger) *function {
	return &function{
		logger: logger,
		handler: sync.OnceValues(func() (http.Handler, error) {
			opts, err := visionOptions(getenv)
			if err != nil {
				return nil, err
			}
			cfg, err := configFromEnv(getenv)
			if err != nil {
				return nil, err
			}
			// The context only scopes credential lookup and dialing setup;
			// the clients outlive it.
			annotator, err := NewVisionAnnotator(context.Background(), opts...)
			if err != nil {
				return nil, err
			}
			if len(cfg.Languages) > 0 {
				opts, err := endpointOptions(getenv, EnvTranslationEndpoint)
				if err != nil {
					return nil, err
				}
				translator, err := NewCloudTranslator(context.Background(), getenv(EnvProject), opts...)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", EnvProject, err)
				}
				cfg.Translator = NewTranslationCache(translator, 0)
			}
			return NewHandler(annotator, cfg, logger), nil
		}),
	}
}

func (f *function) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, err := f.handler()
	if err != nil {
		f.logger.ErrorContext(r.Context(), "labeler cannot start", slog.String("error", err.Error()))
		writeJSON(w, http.StatusInternalServerError, ErrorResponse{Error: "the labeler is misconfigured; see its logs"})
		return
	}
	h.ServeHTTP(w, r)
}

// configFromEnv reads the handler's settings from the environment:
// LABELER_MAX_IMAGE_BYTES and LABELER_LANGUAGES.
func configFromEnv(getenv func(string) string) (Config, error) {
	var cfg Config
	if raw := strings.TrimSpace(getenv(EnvMaxImageBytes)); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n <= 0 {
			return Config{}, fmt.Errorf("%s=%q is not a positive number of bytes", EnvMaxImageBytes, raw)
		}
		cfg.MaxImageBytes = n
	}
	langs, err := ParseLanguages(getenv(EnvLanguages))
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", EnvLanguages, err)
	}
	cfg.Languages = langs
	if len(langs) == 0 {
		cfg.TranslationNote = "translation is not enabled for this labeler (the stack's crossfaas:labelLanguages is empty): the labels are not translated"
	}
	return cfg, nil
}

// visionOptions returns the Vision client options the environment asks for:
// none in the cloud, an insecure unauthenticated endpoint when
// LABELER_VISION_ENDPOINT is set.
func visionOptions(getenv func(string) string) ([]option.ClientOption, error) {
	return endpointOptions(getenv, EnvVisionEndpoint)
}

// endpointOptions returns the client options of the endpoint variable
// name: none when it is unset, else an insecure unauthenticated gRPC
// endpoint.
func endpointOptions(getenv func(string) string, name string) ([]option.ClientOption, error) {
	endpoint := getenv(name)
	if endpoint == "" {
		return nil, nil
	}
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("%s=%q is not host:port", name, endpoint)
	}
	return []option.ClientOption{
		option.WithEndpoint(endpoint),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}, nil
}

// newCloudLogger logs JSON lines that Cloud Logging parses: "severity" and
// "message" are its names for slog's "level" and "msg".
func newCloudLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.LevelKey:
				a.Key = "severity"
				if l, ok := a.Value.Any().(slog.Level); ok && l >= slog.LevelWarn && l < slog.LevelError {
					a.Value = slog.StringValue("WARNING")
				}
			case slog.MessageKey:
				a.Key = "message"
			}
			return a
		},
	}))
}
