package labeler

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// EnvVisionEndpoint names the variable that points the registered function's
// Vision client at a fake or an emulator (host:port, plain gRPC, no auth).
const EnvVisionEndpoint = "LABELER_VISION_ENDPOINT"

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
			// The context only scopes credential lookup and dialing setup;
			// the client outlives it.
			annotator, err := NewVisionAnnotator(context.Background(), opts...)
			if err != nil {
				return nil, err
			}
			return NewHandler(annotator, Config{}, logger), nil
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

// visionOptions returns the Vision client options the environment asks for:
// none in the cloud, an insecure unauthenticated endpoint when
// LABELER_VISION_ENDPOINT is set.
func visionOptions(getenv func(string) string) ([]option.ClientOption, error) {
	endpoint := getenv(EnvVisionEndpoint)
	if endpoint == "" {
		return nil, nil
	}
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("%s=%q is not host:port", EnvVisionEndpoint, endpoint)
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
