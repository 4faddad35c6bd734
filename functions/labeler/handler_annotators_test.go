package labeler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// annotatorFunc adapts a function to Annotator.
type annotatorFunc func(ctx context.Context, imageURI string) (*Annotation, error)

func (f annotatorFunc) Annotate(ctx context.Context, imageURI string) (*Annotation, error) {
	return f(ctx, imageURI)
}

// AnnotateContent calls f with the image's size for a URI.
func (f annotatorFunc) AnnotateContent(ctx context.Context, content []byte) (*Annotation, error) {
	return f(ctx, fmt.Sprintf("%d bytes", len(content)))
}

func TestHandlerOtherAnnotators(t *testing.T) {
	offline := &Annotation{
		Engine: EngineOffline,
		Facts:  &ImageFacts{Format: "jpeg", Width: 640, Height: 480, Bytes: 51234, DominantColors: []string{"#aabbcc"}, Faces: 1},
		Note:   "offline: facts computed from the image, not Cloud Vision labels",
	}
	tests := []struct {
		name      string
		annotator annotatorFunc
		status    int
		wantBody  string // JSON, compared structurally
		wantLog   string // substring of the log line's error
	}{
		{
			name:      "offline annotation",
			annotator: func(context.Context, string) (*Annotation, error) { return offline, nil },
			status:    http.StatusOK,
			wantBody: `{"imageUri":"gs://b/o.jpg","defaultImage":false,"engine":"offline","labels":[],
				"facts":{"format":"jpeg","width":640,"height":480,"bytes":51234,"dominantColors":["#aabbcc"],"faces":1},
				"engineNote":"offline: facts computed from the image, not Cloud Vision labels"}`,
		},
		{
			name: "unusable image from another engine",
			annotator: func(context.Context, string) (*Annotation, error) {
				return nil, fmt.Errorf("decode: %w", ErrUnusableImage)
			},
			status:   http.StatusUnprocessableEntity,
			wantBody: `{"error":"decode: image cannot be analysed","imageUri":"gs://b/o.jpg"}`,
			wantLog:  "decode: image cannot be analysed",
		},
		{
			name:      "plain error",
			annotator: func(context.Context, string) (*Annotation, error) { return nil, errors.New("disk on fire") },
			status:    http.StatusBadGateway,
			wantBody:  `{"error":"image analysis failed upstream","imageUri":"gs://b/o.jpg"}`,
			wantLog:   "disk on fire",
		},
		{
			name:      "nil annotation",
			annotator: func(context.Context, string) (*Annotation, error) { return nil, nil },
			status:    http.StatusBadGateway,
			wantBody:  `{"error":"image analysis failed upstream","imageUri":"gs://b/o.jpg"}`,
			wantLog:   "no annotation and no error",
		},
		{
			name:      "panic",
			annotator: func(context.Context, string) (*Annotation, error) { panic("index out of range") },
			status:    http.StatusInternalServerError,
			wantBody:  `{"error":"internal error"}`,
			wantLog:   "panic: index out of range",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &lockedBuffer{}
			srv := httptest.NewServer(NewHandler(tt.annotator, Config{}, newCloudLogger(logs)))
			defer srv.Close()

			got := send(t, newRequest(t, http.MethodGet, srv.URL+queryFor("gs://b/o.jpg"), "", ""))

			if got.status != tt.status {
				t.Errorf("GET status = %d, want %d; body %s", got.status, tt.status, got.raw)
			}
			var want map[string]any
			if err := json.Unmarshal([]byte(tt.wantBody), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.json, want) {
				t.Errorf("GET = %s, want %s", got.raw, tt.wantBody)
			}
			lines := logs.lines(t)
			if len(lines) != 1 {
				t.Fatalf("logged %d lines, want 1", len(lines))
			}
			if errMsg, _ := lines[0]["error"].(string); !strings.Contains(errMsg, tt.wantLog) {
				t.Errorf("logged error = %q, want it to contain %q", errMsg, tt.wantLog)
			}
		})
	}
}
