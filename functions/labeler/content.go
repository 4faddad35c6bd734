// Images sent as bytes: which requests carry one, which formats are taken,
// and how the body is read.

package labeler

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"

	"github.com/crossfaas/crossfaas/functions/labeler/imageformat"
)

// DefaultMaxImageBytes is the largest image body taken when
// Config.MaxImageBytes is zero: 10 MiB, the stack's default of
// crossfaas:uploadMaxMiB.
const DefaultMaxImageBytes = 10 << 20

// Image formats a POST body may hold, as SniffImage names them: the
// formats Cloud Vision takes that browsers and cameras produce.
const (
	FormatJPEG = imageformat.JPEG
	FormatPNG  = imageformat.PNG
	FormatGIF  = imageformat.GIF
	FormatWebP = imageformat.WebP
	FormatBMP  = imageformat.BMP
)

// imageMediaTypes maps the Content-Types of an image body to the format
// they announce; application/octet-stream announces none and lets the
// bytes decide.
var imageMediaTypes = map[string]string{
	"image/jpeg":               FormatJPEG,
	"image/jpg":                FormatJPEG,
	"image/pjpeg":              FormatJPEG,
	"image/png":                FormatPNG,
	"image/gif":                FormatGIF,
	"image/webp":               FormatWebP,
	"image/bmp":                FormatBMP,
	"image/x-bmp":              FormatBMP,
	"image/x-ms-bmp":           FormatBMP,
	"application/octet-stream": "",
}

// ImageInfo describes an image sent as bytes, in the reply.
type ImageInfo struct {
	Format string `json:"format"` // FormatJPEG, FormatPNG, ...
	Bytes  int    `json:"bytes"`
}

// SniffImage returns the format of an image from its first bytes (its
// signature), or "" when they are none of the five formats taken.
func SniffImage(data []byte) string { return imageformat.Sniff(data) }

// isImageBody reports whether r is a POST whose body is an image (its
// Content-Type is one of imageMediaTypes) rather than a JSON or form body
// naming one.
func isImageBody(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return false
	}
	_, ok := imageMediaTypes[mediaType]
	return ok
}

// readImage reads the image body of r, which ServeHTTP limited to max
// bytes, and checks it: not empty, at most max bytes, one of the five
// formats and, when the Content-Type names a format, that one.
func readImage(r *http.Request, max int64) ([]byte, *ImageInfo, *outcome) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			out := failure(http.StatusRequestEntityTooLarge, fmt.Sprintf("the image is larger than the limit of %s", sizeText(max)))
			return nil, nil, &out
		}
		out := failure(http.StatusBadRequest, "cannot read the image: "+err.Error())
		return nil, nil, &out
	}
	if len(data) == 0 {
		out := failure(http.StatusBadRequest, "the image is empty: send its bytes as the body")
		return nil, nil, &out
	}
	format := SniffImage(data)
	if format == "" {
		out := failure(http.StatusUnsupportedMediaType, "the body is not a JPEG, PNG, GIF, WebP or BMP image")
		return nil, nil, &out
	}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if announced := imageMediaTypes[mediaType]; announced != "" && announced != format {
		out := failure(http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %s does not match the body, which is a %s image", mediaType, formatName(format)))
		return nil, nil, &out
	}
	return data, &ImageInfo{Format: format, Bytes: len(data)}, nil
}

// formatName is the usual name of a format, for messages.
func formatName(format string) string { return imageformat.Name(format) }

// sizeText words a byte count for messages: "10 MiB", "1536 KiB", "100 bytes".
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// imageContentTypes lists the Content-Types of an image body, for the
// error that names them.
func imageContentTypes() []string {
	var types []string
	for t := range imageMediaTypes {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}
