// Package labeler is the crossfaas image labeler: a Google Cloud Function
// (2nd gen, Go runtime) that labels one image with Cloud Vision.
//
// The function is registered in init with functions-framework-go under the
// entry point "Detect". It answers GET and POST requests carrying an
// imageUri (an http, https or gs URL, see package imageuri) in the query
// string or, for POST, in a form-encoded or JSON body ({"imageUri": "..."}).
// Without an imageUri it labels imageuri.Default and says so in the reply.
// The reply is JSON (see Response); errors are JSON too (see ErrorResponse):
// 400 for a bad request, 405 for a method other than GET or POST, 413 for an
// oversized body, 415 for a body that is neither JSON nor a form, 422 when
// the image itself cannot be analysed (not reachable, not an image), 502 when
// Cloud Vision fails, 504 when it does not answer in time, and 500 when the
// function cannot create its Vision client (details only in the logs).
//
// The handler (NewHandler) does not know which engine labels the image: the
// deployed function uses VisionAnnotator, `crossfaas dev` serves the same
// handler with an offline Annotator.
//
// # Environment
//
// LABELER_VISION_ENDPOINT, when set to host:port, points the Vision client of
// the registered function at that address over plain gRPC, without TLS and
// without credentials. It exists for the fake Vision server of the tests and
// for emulators; leave it unset in the cloud, where the client reaches
// vision.googleapis.com with the function's service account. The variable is
// read once, when the first request arrives, together with the creation of
// the Vision client.
package labeler

import (
	"context"
	"errors"

	"github.com/crossfaas/crossfaas/functions/labeler/annotation"
)

// Engine names reported in Annotation.Engine (package annotation, which
// the labeler's callers import to decode its replies).
const (
	EngineCloudVision = annotation.EngineCloudVision
	EngineOffline     = annotation.EngineOffline
)

// Label is one thing seen in an image (see annotation.Label).
type Label = annotation.Label

// SafeSearch is Vision's estimate of sensitive content (see
// annotation.SafeSearch).
type SafeSearch = annotation.SafeSearch

// ImageFacts are facts computed from the image itself by an offline engine
// (crossfaas dev), never by Vision.
type ImageFacts struct {
	Format         string   `json:"format"`
	Width          int      `json:"width"`
	Height         int      `json:"height"`
	Bytes          int      `json:"bytes"`
	DominantColors []string `json:"dominantColors"` // "#rrggbb"
	Faces          int      `json:"faces"`
}

// Annotation is what an engine found in one image.
type Annotation struct {
	Engine     string      `json:"engine"` // EngineCloudVision or EngineOffline
	Labels     []Label     `json:"labels"`
	SafeSearch *SafeSearch `json:"safeSearch,omitempty"`
	Facts      *ImageFacts `json:"facts,omitempty"`      // offline only
	Note       string      `json:"engineNote,omitempty"` // e.g. "offline: facts computed from the image, not Cloud Vision labels"
}

// Annotator labels one image: Annotate one the engine fetches from a URI,
// AnnotateContent one whose bytes the caller sent (a JPEG, PNG, GIF, WebP
// or BMP image, already checked by the handler). Errors wrapping
// ErrUnusableImage are the caller's image problem (the handler answers
// 422); others are upstream failures (502, or 504 when the context's
// deadline passed).
type Annotator interface {
	Annotate(ctx context.Context, imageURI string) (*Annotation, error)
	AnnotateContent(ctx context.Context, content []byte) (*Annotation, error)
}

// Translator translates texts from English (Cloud Vision's label language)
// into one target language (BCP-47), answering in the order of texts.
// Errors are upstream failures (502, or 504 when the context's deadline
// passed).
type Translator interface {
	Translate(ctx context.Context, texts []string, target string) ([]string, error)
}

// ErrUnusableImage is wrapped by Annotator errors caused by the image itself:
// it cannot be fetched, is not an image, or its URI is not acceptable.
var ErrUnusableImage = errors.New("image cannot be analysed")
