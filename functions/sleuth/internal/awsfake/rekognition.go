package awsfake

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// Rekognition fakes the Rekognition operations sleuth uses (CreateCollection,
// DescribeCollection, IndexFaces, SearchFacesByImage, ListFaces,
// ListCollections and DeleteCollection, the list operations paginated like
// Rekognition's), with
// in-memory collections. It decides who is in an image with Identify; the
// default reads the marker FaceJPEG and FacePNG write.
type Rekognition struct {
	Faults

	// Identify reports the person in image: "" for no face, or an error code
	// (e.g. "InvalidImageFormatException") for an image Rekognition can't
	// decode. Set it before the first request; nil means DefaultIdentify.
	Identify func(image []byte) (person, errCode string)
	// Similarity is what a search reports for a face of the same person;
	// zero means 99.1.
	Similarity float32

	mu          sync.Mutex
	collections map[string][]IndexedFace
	created     map[string]time.Time // CreationTimestamp of each collection
	calls       map[string]int
	index       []IndexFacesRequest
	search      []SearchFacesRequest
	nextID      int
}

// IndexedFace is a face stored in a fake collection.
type IndexedFace struct {
	FaceID          string
	ExternalImageID string
	Person          string
}

// IndexFacesRequest is the part of an IndexFaces request tests look at.
type IndexFacesRequest struct {
	CollectionID    string
	ExternalImageID string
	MaxFaces        int
	QualityFilter   string
	Image           []byte
}

// SearchFacesRequest is the part of a SearchFacesByImage request tests look
// at.
type SearchFacesRequest struct {
	CollectionID       string
	FaceMatchThreshold float64
	MaxFaces           int
	Image              []byte
}

// NewRekognition returns a fake with no collections.
func NewRekognition() *Rekognition {
	return &Rekognition{collections: map[string][]IndexedFace{}, created: map[string]time.Time{}, calls: map[string]int{}}
}

// The marker FaceJPEG and FacePNG put after the image's magic number.
var faceMarker = regexp.MustCompile(`face=([A-Za-z0-9_.-]*);`)

// corruptMarker makes DefaultIdentify report an undecodable image.
const corruptMarker = "corrupt;"

// FaceJPEG returns bytes that sniff as JPEG and that the fake sees as a photo
// of person; "" is a photo without a face.
func FaceJPEG(person string) []byte {
	return append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), "face="+person+";"...)
}

// FacePNG returns bytes that sniff as PNG and that the fake sees as a photo
// of person; "" is a photo without a face.
func FacePNG(person string) []byte {
	return append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"), "face="+person+";"...)
}

// CorruptJPEG returns bytes that sniff as JPEG but that the fake refuses
// with InvalidImageFormatException.
func CorruptJPEG() []byte {
	return append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), corruptMarker...)
}

// DefaultIdentify reads the marker of FaceJPEG, FacePNG and CorruptJPEG.
// Images larger than Rekognition's 5 MB limit for raw bytes are refused with
// ImageTooLargeException; images without a marker have no face.
func DefaultIdentify(image []byte) (person, errCode string) {
	if len(image) > 5*1024*1024 {
		return "", "ImageTooLargeException"
	}
	if bytes.Contains(image, []byte(corruptMarker)) {
		return "", "InvalidImageFormatException"
	}
	if m := faceMarker.FindSubmatch(image); m != nil {
		return string(m[1]), ""
	}
	return "", ""
}

// Calls returns how many requests of op (e.g. "IndexFaces") the fake served,
// faults included.
func (f *Rekognition) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// IndexRequests returns the IndexFaces requests served, in order.
func (f *Rekognition) IndexRequests() []IndexFacesRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]IndexFacesRequest(nil), f.index...)
}

// SearchRequests returns the SearchFacesByImage requests served, in order.
func (f *Rekognition) SearchRequests() []SearchFacesRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]SearchFacesRequest(nil), f.search...)
}

// Faces returns the faces of a collection and whether it exists.
func (f *Rekognition) Faces(collectionID string) ([]IndexedFace, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	faces, ok := f.collections[collectionID]
	return append([]IndexedFace(nil), faces...), ok
}

// AddFace indexes a face of person under externalID, as if IndexFaces had
// run; the collection is created when missing.
func (f *Rekognition) AddFace(collectionID, externalID, person string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	if _, ok := f.collections[collectionID]; !ok {
		f.created[collectionID] = time.Now().Add(-time.Hour)
	}
	f.collections[collectionID] = append(f.collections[collectionID],
		IndexedFace{FaceID: fmt.Sprintf("face-%04d", f.nextID), ExternalImageID: externalID, Person: person})
}

// Rekognition's ids: collection ids [a-zA-Z0-9_.\-]+, external image ids
// also with ':'.
var (
	collectionIDPattern = regexp.MustCompile(`^[a-zA-Z0-9_.\-]{1,255}$`)
	externalIDPattern   = regexp.MustCompile(`^[a-zA-Z0-9_.\-:]{1,255}$`)
)

type rekImage struct {
	Bytes    []byte `json:"Bytes"`
	S3Object any    `json:"S3Object"`
}

const rekJSON = "application/x-amz-json-1.1"

func (f *Rekognition) serve(w http.ResponseWriter, r *http.Request, op string) {
	f.mu.Lock()
	f.calls[op]++
	f.mu.Unlock()
	if code, ok := f.next(op); ok {
		writeJSONError(w, faultStatus(code), code, "injected fault")
		return
	}
	switch op {
	case "CreateCollection":
		f.createCollection(w, r)
	case "DescribeCollection":
		f.describeCollection(w, r)
	case "IndexFaces":
		f.indexFaces(w, r)
	case "SearchFacesByImage":
		f.searchFacesByImage(w, r)
	case "ListFaces":
		f.listFaces(w, r)
	case "ListCollections":
		f.listCollections(w, r)
	case "DeleteCollection":
		f.deleteCollection(w, r)
	default:
		writeJSONError(w, http.StatusBadRequest, "UnknownOperationException", "fake does not implement "+op)
	}
}

// identify applies Identify, answering the error itself when the image is
// refused.
func (f *Rekognition) identify(w http.ResponseWriter, img rekImage) (string, bool) {
	if len(img.Bytes) == 0 {
		writeJSONError(w, http.StatusBadRequest, "InvalidParameterException", "Image.Bytes is empty")
		return "", false
	}
	identify := f.Identify
	if identify == nil {
		identify = DefaultIdentify
	}
	person, code := identify(img.Bytes)
	if code != "" {
		writeJSONError(w, http.StatusBadRequest, code, "Request has invalid image format")
		return "", false
	}
	return person, true
}

func (f *Rekognition) indexFaces(w http.ResponseWriter, r *http.Request) {
	var in struct {
		CollectionId    string
		ExternalImageId string
		Image           rekImage
		MaxFaces        int
		QualityFilter   string
	}
	if !decodeJSON(w, r, &in) {
		return
	}
	f.mu.Lock()
	f.index = append(f.index, IndexFacesRequest{
		CollectionID: in.CollectionId, ExternalImageID: in.ExternalImageId,
		MaxFaces: in.MaxFaces, QualityFilter: in.QualityFilter, Image: in.Image.Bytes,
	})
	_, exists := f.collections[in.CollectionId]
	f.mu.Unlock()
	if in.ExternalImageId != "" && !externalIDPattern.MatchString(in.ExternalImageId) {
		writeJSONError(w, http.StatusBadRequest, "ValidationException", "invalid ExternalImageId")
		return
	}
	if !exists {
		writeJSONError(w, http.StatusBadRequest, "ResourceNotFoundException",
			"The collection id: "+in.CollectionId+" does not exist")
		return
	}
	person, ok := f.identify(w, in.Image)
	if !ok {
		return
	}
	out := map[string]any{"FaceModelVersion": "7.0", "FaceRecords": []any{}, "UnindexedFaces": []any{}}
	if person != "" {
		f.mu.Lock()
		f.nextID++
		face := IndexedFace{FaceID: fmt.Sprintf("face-%04d", f.nextID), ExternalImageID: in.ExternalImageId, Person: person}
		f.collections[in.CollectionId] = append(f.collections[in.CollectionId], face)
		f.mu.Unlock()
		out["FaceRecords"] = []any{map[string]any{
			"Face": map[string]any{
				"FaceId": face.FaceID, "ExternalImageId": face.ExternalImageID,
				"ImageId": "image-" + face.FaceID, "Confidence": 99.9,
				"BoundingBox": map[string]float64{"Width": 0.5, "Height": 0.5, "Left": 0.25, "Top": 0.25},
			},
			"FaceDetail": map[string]any{"Confidence": 99.9},
		}}
	}
	writeJSON(w, rekJSON, out)
}

func (f *Rekognition) searchFacesByImage(w http.ResponseWriter, r *http.Request) {
	var in struct {
		CollectionId       string
		FaceMatchThreshold float64
		MaxFaces           int
		Image              rekImage
	}
	if !decodeJSON(w, r, &in) {
		return
	}
	f.mu.Lock()
	f.search = append(f.search, SearchFacesRequest{
		CollectionID: in.CollectionId, FaceMatchThreshold: in.FaceMatchThreshold,
		MaxFaces: in.MaxFaces, Image: in.Image.Bytes,
	})
	faces, exists := f.collections[in.CollectionId]
	faces = append([]IndexedFace(nil), faces...)
	f.mu.Unlock()
	if !exists {
		writeJSONError(w, http.StatusBadRequest, "ResourceNotFoundException",
			"The collection id: "+in.CollectionId+" does not exist")
		return
	}
	person, ok := f.identify(w, in.Image)
	if !ok {
		return
	}
	if person == "" {
		writeJSONError(w, http.StatusBadRequest, "InvalidParameterException",
			"There are no faces in the image. Should be at least 1.")
		return
	}
	similarity := f.Similarity
	if similarity == 0 {
		similarity = 99.1
	}
	matches := []any{}
	for _, face := range faces {
		if face.Person != person || float64(similarity) < in.FaceMatchThreshold {
			continue
		}
		if in.MaxFaces > 0 && len(matches) == in.MaxFaces {
			break
		}
		matches = append(matches, map[string]any{
			"Similarity": similarity,
			"Face": map[string]any{
				"FaceId": face.FaceID, "ExternalImageId": face.ExternalImageID,
				"ImageId": "image-" + face.FaceID, "Confidence": 99.9,
			},
		})
	}
	writeJSON(w, rekJSON, map[string]any{
		"FaceModelVersion":        "7.0",
		"SearchedFaceConfidence":  99.9,
		"SearchedFaceBoundingBox": map[string]float64{"Width": 0.5, "Height": 0.5, "Left": 0.25, "Top": 0.25},
		"FaceMatches":             matches,
	})
}

// page implements the list operations' NextToken paging over
// n items: the token is the index of the next item.
func page(token string, max, n int) (start, end int, next string, ok bool) {
	if token != "" {
		i, err := strconv.Atoi(token)
		if err != nil || i < 0 || i > n {
			return 0, 0, "", false
		}
		start = i
	}
	if max <= 0 {
		max = 1000
	}
	end = min(start+max, n)
	if end < n {
		next = strconv.Itoa(end)
	}
	return start, end, next, true
}

func (f *Rekognition) listFaces(w http.ResponseWriter, r *http.Request) {
	var in struct {
		CollectionId string
		MaxResults   int
		NextToken    string
	}
	if !decodeJSON(w, r, &in) {
		return
	}
	faces, exists := f.Faces(in.CollectionId)
	if !exists {
		writeJSONError(w, http.StatusBadRequest, "ResourceNotFoundException",
			"The collection id: "+in.CollectionId+" does not exist")
		return
	}
	if in.MaxResults > 4096 {
		writeJSONError(w, http.StatusBadRequest, "InvalidParameterException", "MaxResults is at most 4096")
		return
	}
	start, end, next, ok := page(in.NextToken, in.MaxResults, len(faces))
	if !ok {
		writeJSONError(w, http.StatusBadRequest, "InvalidPaginationTokenException", "invalid NextToken")
		return
	}
	out := []any{}
	for _, face := range faces[start:end] {
		out = append(out, map[string]any{"FaceId": face.FaceID, "ExternalImageId": face.ExternalImageID,
			"ImageId": "image-" + face.FaceID, "Confidence": 99.9})
	}
	resp := map[string]any{"Faces": out, "FaceModelVersion": "7.0"}
	if next != "" {
		resp["NextToken"] = next
	}
	writeJSON(w, rekJSON, resp)
}
