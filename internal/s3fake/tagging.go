// Object tagging and CopyObject, which the fake serves itself.

package s3fake

//lint:file-ignore ST1005 checkTags returns S3's own error messages, which go on the wire verbatim

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/johannesboyne/gofakes3"
)

// S3's limits on object tags.
const (
	maxTags        = 10
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

// tagging is the document of GetObjectTagging and PutObjectTagging.
type tagging struct {
	XMLName xml.Name `xml:"Tagging"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	TagSet  []Tag    `xml:"TagSet>Tag"`
}

// Tags returns the tags of an object version ("" is the current version),
// or nil.
func (s *Server) Tags(bucket, key, version string) map[string]string {
	if version == "" {
		obj, err := s.head(bucket, key, "")
		if err != nil {
			return nil
		}
		version = string(obj.VersionID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tags := s.tags[versionKey{bucket, key, version}]
	if tags == nil {
		return nil
	}
	out := map[string]string{}
	for _, t := range tags {
		out[t.Key] = t.Value
	}
	return out
}

func (s *Server) setTags(bucket, key, version string, tags []Tag) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tags[versionKey{bucket, key, version}] = tags
}

func (s *Server) tagsOf(bucket, key, version string) []Tag {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Tag(nil), s.tags[versionKey{bucket, key, version}]...)
}

// serveTagging serves GET, PUT and DELETE ?tagging of an object version.
func (s *Server) serveTagging(w http.ResponseWriter, r *http.Request, c Call) {
	obj, err := s.head(c.Bucket, c.Key, c.VersionID)
	if err != nil {
		writeBackendError(w, err, c.Key)
		return
	}
	version := string(obj.VersionID)
	w.Header().Set("X-Amz-Version-Id", version)
	switch r.Method {
	case http.MethodGet:
		writeXML(w, http.StatusOK, tagging{Xmlns: "http://s3.amazonaws.com/doc/2006-03-01/", TagSet: s.tagsOf(c.Bucket, c.Key, version)})
	case http.MethodPut:
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			WriteError(w, http.StatusBadRequest, "IncompleteBody", err.Error(), c.Key)
			return
		}
		var doc tagging
		if err := xml.Unmarshal(body, &doc); err != nil {
			WriteError(w, http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed", c.Key)
			return
		}
		if err := checkTags(doc.TagSet); err != nil {
			WriteError(w, http.StatusBadRequest, "InvalidTag", err.Error(), c.Key)
			return
		}
		s.setTags(c.Bucket, c.Key, version, doc.TagSet)
		w.WriteHeader(http.StatusOK)
	case http.MethodDelete:
		s.setTags(c.Bucket, c.Key, version, nil)
		w.WriteHeader(http.StatusNoContent)
	}
}

// checkTags applies S3's limits: at most 10 tags, keys of 1 to 128
// characters and values of at most 256, unique keys, no "aws:" prefix. Its
// errors are S3's own messages, which the fake sends verbatim.
func checkTags(tags []Tag) error {
	if len(tags) > maxTags {
		return fmt.Errorf("Object tags cannot be greater than %d", maxTags)
	}
	seen := map[string]bool{}
	for _, t := range tags {
		switch {
		case t.Key == "" || utf8.RuneCountInString(t.Key) > maxTagKeyLen:
			return fmt.Errorf("The TagKey you have provided is invalid")
		case utf8.RuneCountInString(t.Value) > maxTagValueLen:
			return fmt.Errorf("The TagValue you have provided is invalid")
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return fmt.Errorf("Your TagKey cannot be prefixed with aws:")
		case seen[t.Key]:
			return fmt.Errorf("Cannot provide multiple Tags with the same key")
		}
		seen[t.Key] = true
	}
	return nil
}

// parseTagHeader parses x-amz-tagging ("k1=v1&k2=v2"); "" is no tags.
func parseTagHeader(raw string) ([]Tag, error) {
	if raw == "" {
		return nil, nil
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, fmt.Errorf("x-amz-tagging is malformed: %w", err)
	}
	var tags []Tag
	for k, vs := range q {
		for _, v := range vs {
			tags = append(tags, Tag{Key: k, Value: v})
		}
	}
	return tags, checkTags(tags)
}

// serveCopy copies the source version (the current one without
// ?versionId) to c's key, with the source's content type and metadata and
// its tags (x-amz-tagging-directive COPY, the default) or the request's
// (REPLACE).
func (s *Server) serveCopy(w http.ResponseWriter, r *http.Request, c Call) {
	src := strings.TrimPrefix(c.Source, "/")
	path, rawQuery, _ := strings.Cut(src, "?")
	// S3 decodes the header as a form value: "%2B" is "+", and a "+" left
	// unencoded is a space (a client that sends "a+b" copies "a b").
	path, err := url.QueryUnescape(path)
	srcBucket, srcKey, ok := strings.Cut(path, "/")
	if err != nil || !ok || srcBucket == "" || srcKey == "" {
		WriteError(w, http.StatusBadRequest, "InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey", c.Key)
		return
	}
	query, _ := url.ParseQuery(rawQuery)
	version := query.Get("versionId")
	var obj *gofakes3.Object
	if version != "" {
		obj, err = s.backend.GetObjectVersion(srcBucket, srcKey, gofakes3.VersionID(version), nil)
	} else {
		obj, err = s.backend.GetObject(srcBucket, srcKey, nil)
	}
	if err != nil {
		writeBackendError(w, err, srcKey)
		return
	}
	data, err := io.ReadAll(obj.Contents)
	obj.Contents.Close()
	if err != nil {
		WriteError(w, http.StatusInternalServerError, "InternalError", err.Error(), srcKey)
		return
	}
	if obj.IsDeleteMarker {
		WriteError(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.", srcKey)
		return
	}

	tags := s.tagsOf(srcBucket, srcKey, string(obj.VersionID))
	if strings.EqualFold(r.Header.Get("X-Amz-Tagging-Directive"), "REPLACE") {
		if tags, err = parseTagHeader(r.Header.Get("X-Amz-Tagging")); err != nil {
			WriteError(w, http.StatusBadRequest, "InvalidTag", err.Error(), c.Key)
			return
		}
	}
	now := time.Now().UTC()
	meta := map[string]string{}
	for k, v := range obj.Metadata {
		if k == "Content-Type" || strings.HasPrefix(k, "X-Amz-Meta-") {
			meta[k] = v
		}
	}
	meta["Last-Modified"] = now.Format(http.TimeFormat)
	res, err := s.backend.PutObject(c.Bucket, c.Key, meta, bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		writeBackendError(w, err, c.Key)
		return
	}
	s.setTags(c.Bucket, c.Key, string(res.VersionID), tags)
	sum := md5.Sum(data)
	w.Header().Set("X-Amz-Version-Id", string(res.VersionID))
	w.Header().Set("X-Amz-Copy-Source-Version-Id", string(obj.VersionID))
	writeXML(w, http.StatusOK, struct {
		XMLName      xml.Name `xml:"CopyObjectResult"`
		LastModified string   `xml:"LastModified"`
		ETag         string   `xml:"ETag"`
	}{LastModified: now.Format(time.RFC3339), ETag: `"` + hex.EncodeToString(sum[:]) + `"`})
	s.notify("ObjectCreated:Copy", c.Bucket, c.Key, string(res.VersionID))
}

// writeXML answers v as an XML document.
func writeXML(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	if err := xml.NewEncoder(&b).Encode(v); err != nil {
		WriteError(w, http.StatusInternalServerError, "InternalError", err.Error(), "")
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}
