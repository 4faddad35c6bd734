package labeler

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"cloud.google.com/go/vision/v2/apiv1/visionpb"
)

// testImages are small images of the five formats: JPEG, PNG and GIF
// encoded by the standard library; WebP and BMP as their headers, which is
// all the labeler itself reads (Vision decodes).
func testImages(t *testing.T) map[string][]byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 6))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	out := map[string][]byte{}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	out[FormatJPEG] = bytes.Clone(b.Bytes())
	b.Reset()
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	out[FormatPNG] = bytes.Clone(b.Bytes())
	b.Reset()
	pal := image.NewPaletted(img.Bounds(), color.Palette{color.Black, color.White})
	if err := gif.Encode(&b, pal, nil); err != nil {
		t.Fatal(err)
	}
	out[FormatGIF] = bytes.Clone(b.Bytes())
	out[FormatWebP] = append([]byte("RIFF\x24\x00\x00\x00WEBPVP8 "), make([]byte, 28)...)
	out[FormatBMP] = append([]byte("BM\x46\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00"), make([]byte, 56)...)
	return out
}

func TestSniffImage(t *testing.T) {
	for format, data := range testImages(t) {
		if got := SniffImage(data); got != format {
			t.Errorf("SniffImage(%s image) = %q, want %q", format, got, format)
		}
		if got := SniffImage(data[:2]); got != "" {
			t.Errorf("SniffImage(first 2 bytes of a %s) = %q, want none", format, got)
		}
	}
	for _, data := range []string{"", "hello, world", "%PDF-1.7", "RIFF\x00\x00\x00\x00WAVEfmt ", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>", "II*\x00"} {
		if got := SniffImage([]byte(data)); got != "" {
			t.Errorf("SniffImage(%q) = %q, want none", data, got)
		}
	}
}

// TestHandlerLabelsImageBytes posts each format's bytes: Vision gets them
// as the request's content, in one request for labels and SafeSearch.
func TestHandlerLabelsImageBytes(t *testing.T) {
	srv := newTestServer(t, Config{})
	for format, data := range testImages(t) {
		t.Run(format, func(t *testing.T) {
			before := len(srv.fake.received())
			req := newRequest(t, http.MethodPost, srv.url+"/", "image/"+format, string(data))
			got := send(t, req)
			if got.status != http.StatusOK {
				t.Fatalf("POST %s status = %d, body %s", format, got.status, got.raw)
			}
			wantImage := map[string]any{"format": format, "bytes": float64(len(data))}
			if !reflect.DeepEqual(got.json["image"], wantImage) || got.json["imageUri"] != nil || got.json["engine"] != EngineCloudVision {
				t.Errorf("POST %s = %s, want image %v, no imageUri, Vision's labels", format, got.raw, wantImage)
			}
			if ss, _ := got.json["safeSearch"].(map[string]any); ss["racy"] != "LIKELY" {
				t.Errorf("POST %s safeSearch = %v, want Vision's estimate", format, got.json["safeSearch"])
			}
			reqs := srv.fake.received()[before:]
			if len(reqs) != 1 || len(reqs[0].GetRequests()) != 1 {
				t.Fatalf("Vision got %d batch requests, want 1 with 1 image", len(reqs))
			}
			r := reqs[0].GetRequests()[0]
			if !bytes.Equal(r.GetImage().GetContent(), data) || r.GetImage().GetSource() != nil {
				t.Errorf("Vision got content of %d bytes and source %v, want the %d bytes posted", len(r.GetImage().GetContent()), r.GetImage().GetSource(), len(data))
			}
			var features []visionpb.Feature_Type
			for _, f := range r.GetFeatures() {
				features = append(features, f.GetType())
			}
			if want := []visionpb.Feature_Type{visionpb.Feature_LABEL_DETECTION, visionpb.Feature_SAFE_SEARCH_DETECTION}; !reflect.DeepEqual(features, want) {
				t.Errorf("features = %v, want %v in one request", features, want)
			}
		})
	}
	t.Run("octet-stream", func(t *testing.T) {
		got := send(t, newRequest(t, http.MethodPost, srv.url+"/", "application/octet-stream", string(testImages(t)[FormatPNG])))
		if got.status != http.StatusOK || get(got.json, "image.format") != FormatPNG {
			t.Errorf("POST octet-stream PNG = %d %s, want 200 and format png", got.status, got.raw)
		}
	})
}

// TestHandlerRefusesBadImageBodies: the caller's mistakes get a 4xx with
// an explanation, and Vision is never asked.
func TestHandlerRefusesBadImageBodies(t *testing.T) {
	const limit = 1 << 10
	srv := newTestServer(t, Config{MaxImageBytes: limit})
	imgs := testImages(t)
	bigPNG := append(bytes.Clone(imgs[FormatPNG]), make([]byte, limit)...)
	tests := []struct {
		name, target, contentType, body string
		status                          int
		want                            string
	}{
		{"empty", "/", "image/jpeg", "", 400, "the image is empty"},
		{"too large", "/", "image/png", string(bigPNG), 413, "larger than the limit of 1 KiB"},
		{"not an image", "/", "image/jpeg", "<html>not an image</html>", 415, "not a JPEG, PNG, GIF, WebP or BMP image"},
		{"pdf as octet-stream", "/", "application/octet-stream", "%PDF-1.7\n...", 415, "not a JPEG, PNG, GIF, WebP or BMP image"},
		{"type mismatch", "/", "image/png", string(imgs[FormatJPEG]), 415, "Content-Type image/png does not match the body, which is a JPEG image"},
		{"imageUri and bytes", "/?imageUri=gs://b/o.jpg", "image/jpeg", string(imgs[FormatJPEG]), 400, "imageUri is given with an image body"},
		{"unknown body type", "/", "text/plain", "hello", 415, "send an image (application/octet-stream, image/bmp"},
		{"bad language", "/?languages=spanish", "image/jpeg", string(imgs[FormatJPEG]), 400, `language "spanish" is not a language code`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := send(t, newRequest(t, http.MethodPost, srv.url+tt.target, tt.contentType, tt.body))
			if got.status != tt.status {
				t.Errorf("status = %d, want %d; body %s", got.status, tt.status, got.raw)
			}
			if msg, _ := got.json["error"].(string); !strings.Contains(msg, tt.want) {
				t.Errorf("error = %q, want it to contain %q", msg, tt.want)
			}
		})
	}
	if n := len(srv.fake.received()); n != 0 {
		t.Errorf("Vision was called %d times for bad requests, want 0", n)
	}
}

// TestHandlerPassesEverySafeSearchLikelihood: whatever Vision estimates
// reaches the caller by its name, for each category.
func TestHandlerPassesEverySafeSearchLikelihood(t *testing.T) {
	srv := newTestServer(t, Config{})
	for value, name := range visionpb.Likelihood_name {
		l := visionpb.Likelihood(value)
		t.Run(name, func(t *testing.T) {
			srv.fake.setRespond(answerAll(&visionpb.AnnotateImageResponse{
				LabelAnnotations:     []*visionpb.EntityAnnotation{{Description: "Thing", Score: 0.5}},
				SafeSearchAnnotation: &visionpb.SafeSearchAnnotation{Adult: l, Spoof: l, Medical: l, Violence: l, Racy: l},
			}))
			got := send(t, newRequest(t, http.MethodPost, srv.url+"/", "image/gif", string(testImages(t)[FormatGIF])))
			want := map[string]any{"adult": name, "spoof": name, "medical": name, "violence": name, "racy": name}
			if got.status != 200 || !reflect.DeepEqual(got.json["safeSearch"], want) {
				t.Errorf("reply %d %s, want safeSearch %v", got.status, got.raw, want)
			}
		})
	}
}

// get follows a dotted path through nested JSON objects.
func get(v any, path string) any {
	for key := range strings.SplitSeq(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}

// TestImageBodyLimitIsConfigured: the function's environment sets the
// limit; a body within it passes, one byte over does not.
func TestImageBodyLimitIsConfigured(t *testing.T) {
	cfg, err := configFromEnv(func(k string) string {
		return map[string]string{EnvMaxImageBytes: "2048"}[k]
	})
	if err != nil || cfg.MaxImageBytes != 2048 {
		t.Fatalf("configFromEnv = %+v, %v; want a 2048-byte limit", cfg, err)
	}
	fake := startFakeVision(t)
	srv := httptest.NewServer(NewHandler(fake.newAnnotator(t), cfg, nil))
	defer srv.Close()
	png := testImages(t)[FormatPNG]
	for _, tt := range []struct {
		size   int
		status int
	}{{2048, 200}, {2049, 413}} {
		body := append(bytes.Clone(png), make([]byte, tt.size-len(png))...)
		got := send(t, newRequest(t, http.MethodPost, srv.URL, "image/png", string(body)))
		if got.status != tt.status {
			t.Errorf("POST %d bytes: status %d, want %d (%s)", tt.size, got.status, tt.status, got.raw)
		}
	}
	for _, bad := range []string{"0", "-1", "ten", "1.5"} {
		if _, err := configFromEnv(func(k string) string { return map[string]string{EnvMaxImageBytes: bad}[k] }); err == nil || !strings.Contains(err.Error(), EnvMaxImageBytes) {
			t.Errorf("configFromEnv(%s=%q) error = %v, want one naming the variable", EnvMaxImageBytes, bad, err)
		}
	}
	// The reply is JSON with the error.
	var e ErrorResponse
	got := send(t, newRequest(t, http.MethodPost, srv.URL, "image/png", string(append(bytes.Clone(png), make([]byte, 4096)...))))
	if err := json.Unmarshal([]byte(got.raw), &e); err != nil || e.Error == "" {
		t.Errorf("413 body %q is not a JSON error", got.raw)
	}
}
