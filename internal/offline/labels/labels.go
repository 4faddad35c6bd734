// Package labels is the offline image annotator of `crossfaas dev`: it
// implements labeler.Annotator without Cloud Vision, so the labeler's
// handler runs unchanged on one machine with no cloud account.
//
// It does not recognize anything. It fetches the image, decodes it and
// reports facts computed from the pixels themselves (labeler.ImageFacts:
// format, size, dominant colors, number of faces found by
// faces.Detect), with Engine "offline" and a Note saying so. Its Labels
// are those same facts, every description prefixed with "offline:" so
// nobody takes them for Vision labels:
//
//	offline:format:jpeg            score 1
//	offline:faces:2                score 1 (also offline:faces:0)
//	offline:color:#eeebec          score = share of the opaque pixels (0.001)
//
// SafeSearch is not estimated and stays nil. gs:// images are refused:
// Cloud Storage is only reachable with `crossfaas dev --cloud`.
package labels

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // the formats Cloud Vision also takes, minus the exotic ones
	_ "image/jpeg"
	_ "image/png"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/crossfaas/crossfaas/functions/labeler"
	"github.com/crossfaas/crossfaas/functions/labeler/imageuri"
	"github.com/crossfaas/crossfaas/internal/egress"
	"github.com/crossfaas/crossfaas/internal/offline/faces"
	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/webp"
)

// MaxImageBytes is the largest image Annotate fetches (10 MiB).
const MaxImageBytes = 10 << 20

// MaxImagePixels is the largest image Annotate decodes, in pixels; larger
// ones (decompression bombs included) are refused from their header.
const MaxImagePixels = 50_000_000

// Note is the Annotation.Note of every offline annotation.
const Note = "offline: facts computed from the image itself, not Cloud Vision labels"

// LabelPrefix starts the description of every offline label.
const LabelPrefix = "offline:"

// Engine annotates images offline. It is safe for concurrent use; build it
// with New.
type Engine struct {
	client *http.Client
}

var _ labeler.Annotator = (*Engine)(nil)

// New returns an Engine that fetches images with client; nil means
// http.DefaultClient. Give it a client with a timeout, or give Annotate
// contexts with deadlines (the labeler's handler does), and, when others
// may ask for fetches, an egress policy (egress.Policy.Client): a
// connection it refuses is reported as such, an ErrUnusableImage saying
// "refused to fetch it".
func New(client *http.Client) *Engine {
	if client == nil {
		client = http.DefaultClient
	}
	return &Engine{client: client}
}

// Annotate fetches the http(s) image at imageURI (JPEG, PNG, GIF, WebP or BMP, at most
// MaxImageBytes and MaxImagePixels) and returns its facts and offline
// labels. Errors caused by the image wrap labeler.ErrUnusableImage with an
// explanation fit for the caller: an invalid or gs:// URI, a fetch that
// fails or answers other than 200, a body too large, not a supported image.
// When ctx ends first, the error wraps ctx.Err() instead.
func (e *Engine) Annotate(ctx context.Context, imageURI string) (*labeler.Annotation, error) {
	data, contentType, err := e.fetch(ctx, imageURI)
	if err != nil {
		return nil, fmt.Errorf("offline annotate: %w", err)
	}
	facts, err := analyse(data, contentType)
	if err != nil {
		return nil, fmt.Errorf("offline annotate: %w", err)
	}
	return &labeler.Annotation{
		Engine: labeler.EngineOffline,
		Labels: factLabels(facts.ImageFacts, facts.shares),
		Facts:  &facts.ImageFacts,
		Note:   Note,
	}, nil
}

// AnnotateContent returns the facts and offline labels of an image sent as
// bytes (JPEG, PNG, GIF, WebP or BMP, at most MaxImageBytes and
// MaxImagePixels), as Annotate does for a fetched one.
func (e *Engine) AnnotateContent(ctx context.Context, content []byte) (*labeler.Annotation, error) {
	if len(content) > MaxImageBytes {
		return nil, fmt.Errorf("offline annotate: %w: it is larger than the limit of %d MiB", labeler.ErrUnusableImage, MaxImageBytes>>20)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("offline annotate: %w", err)
	}
	facts, err := analyse(content, "")
	if err != nil {
		return nil, fmt.Errorf("offline annotate: %w", err)
	}
	return &labeler.Annotation{
		Engine: labeler.EngineOffline,
		Labels: factLabels(facts.ImageFacts, facts.shares),
		Facts:  &facts.ImageFacts,
		Note:   Note,
	}, nil
}

// fetch downloads imageURI, returning its body and Content-Type.
func (e *Engine) fetch(ctx context.Context, imageURI string) ([]byte, string, error) {
	if err := imageuri.Validate(imageURI); err != nil {
		return nil, "", fmt.Errorf("%w: %w", labeler.ErrUnusableImage, err)
	}
	u, err := url.Parse(imageURI)
	if err != nil { // Validate parsed it already
		return nil, "", fmt.Errorf("%w: %w", labeler.ErrUnusableImage, err)
	}
	if strings.EqualFold(u.Scheme, "gs") {
		return nil, "", fmt.Errorf("%w: gs:// images are read from Cloud Storage, which the offline engine cannot reach: use an http(s) URL, or run `crossfaas dev --cloud`", labeler.ErrUnusableImage)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, imageURI, nil)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", labeler.ErrUnusableImage, err)
	}
	req.Header.Set("Accept", "image/jpeg, image/png, image/gif;q=0.9, */*;q=0.1")
	resp, err := e.client.Do(req)
	if err != nil {
		var refused *egress.RefusedError
		switch {
		case errors.As(err, &refused):
			// The client's egress policy (see New), for this URL or a
			// redirect.
			return nil, "", fmt.Errorf("%w: refused to fetch it: %w", labeler.ErrUnusableImage, refused)
		case ctx.Err() != nil:
			return nil, "", fmt.Errorf("fetch %s: %w", imageURI, ctx.Err())
		}
		return nil, "", fmt.Errorf("%w: cannot fetch it: %w", labeler.ErrUnusableImage, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("%w: fetching it answered HTTP %s", labeler.ErrUnusableImage, resp.Status)
	}
	if resp.ContentLength > MaxImageBytes {
		return nil, "", fmt.Errorf("%w: it is %d bytes, the limit is %d MiB", labeler.ErrUnusableImage, resp.ContentLength, MaxImageBytes>>20)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxImageBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", fmt.Errorf("fetch %s: %w", imageURI, ctx.Err())
		}
		return nil, "", fmt.Errorf("%w: reading it failed: %w", labeler.ErrUnusableImage, err)
	}
	if len(data) > MaxImageBytes {
		return nil, "", fmt.Errorf("%w: it is larger than the limit of %d MiB", labeler.ErrUnusableImage, MaxImageBytes>>20)
	}
	return data, resp.Header.Get("Content-Type"), nil
}

// facts are the ImageFacts of an image with the share of each dominant
// color.
type facts struct {
	labeler.ImageFacts
	shares []float64
}

// analyse decodes an image and computes its facts. contentType (as the
// server sent it) only serves to explain a refusal.
func analyse(data []byte, contentType string) (facts, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		if contentType == "" {
			return facts{}, fmt.Errorf("%w: it is not a JPEG, PNG, GIF, WebP or BMP image (%s)", labeler.ErrUnusableImage, err)
		}
		return facts{}, fmt.Errorf("%w: it is not a JPEG, PNG, GIF, WebP or BMP image (%s, Content-Type %q)", labeler.ErrUnusableImage, err, contentType)
	}
	switch format {
	case "jpeg", "png", "gif", "webp", "bmp":
	default: // a decoder registered by another package of the binary
		return facts{}, fmt.Errorf("%w: %s images are not supported offline, only JPEG, PNG, GIF, WebP and BMP", labeler.ErrUnusableImage, format)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return facts{}, fmt.Errorf("%w: the image has no pixels", labeler.ErrUnusableImage)
	}
	if cfg.Width*cfg.Height > MaxImagePixels {
		return facts{}, fmt.Errorf("%w: %dx%d pixels is over the limit of %d megapixels", labeler.ErrUnusableImage, cfg.Width, cfg.Height, MaxImagePixels/1_000_000)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return facts{}, fmt.Errorf("%w: the %s image is corrupt: %w", labeler.ErrUnusableImage, format, err)
	}
	f := facts{ImageFacts: labeler.ImageFacts{
		Format:         format,
		Width:          cfg.Width,
		Height:         cfg.Height,
		Bytes:          len(data),
		DominantColors: []string{},
		Faces:          len(faces.Detect(img)),
	}}
	for _, s := range dominantColors(img) {
		f.DominantColors = append(f.DominantColors, s.hex())
		f.shares = append(f.shares, s.share)
	}
	return f, nil
}

// factLabels turns facts into labels marked with LabelPrefix (see the
// package documentation).
func factLabels(f labeler.ImageFacts, shares []float64) []labeler.Label {
	labels := []labeler.Label{
		{Description: LabelPrefix + "format:" + f.Format, Score: 1},
		{Description: LabelPrefix + "faces:" + strconv.Itoa(f.Faces), Score: 1},
	}
	for i, c := range f.DominantColors {
		share := math.Round(shares[i]*1000) / 1000
		labels = append(labels, labeler.Label{Description: LabelPrefix + "color:" + c, Score: float32(share)})
	}
	return labels
}
