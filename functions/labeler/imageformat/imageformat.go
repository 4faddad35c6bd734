// Package imageformat recognises the image formats crossfaas takes from
// their first bytes: JPEG, PNG, GIF, WebP and BMP, the formats Cloud Vision
// takes that cameras and browsers produce. The labeler checks image bodies
// with it and the upload inspector checks objects, so both agree on what
// an image is. It depends on nothing but the standard library.
package imageformat

import "bytes"

// The formats, as Sniff names them (the names Go's image decoders
// register).
const (
	JPEG = "jpeg"
	PNG  = "png"
	GIF  = "gif"
	WebP = "webp"
	BMP  = "bmp"
)

// Sniff returns the format of an image from its signature, or "" when the
// bytes start none of the five formats.
func Sniff(data []byte) string {
	switch {
	case len(data) >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF:
		return JPEG
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return PNG
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		return GIF
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return WebP
	case len(data) >= 14 && string(data[:2]) == "BM":
		return BMP
	}
	return ""
}

// Name returns the format's usual name for messages ("JPEG", "WebP"), or
// "" for an unknown format.
func Name(format string) string {
	return map[string]string{JPEG: "JPEG", PNG: "PNG", GIF: "GIF", WebP: "WebP", BMP: "BMP"}[format]
}

// ContentType returns the format's media type ("image/jpeg"), or
// application/octet-stream for an unknown format.
func ContentType(format string) string {
	if Name(format) == "" {
		return "application/octet-stream"
	}
	return "image/" + format
}
