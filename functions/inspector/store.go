// The inspector's S3 calls, each on one prefix of the bucket.

package inspector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// errGone reports that an object version no longer exists.
var errGone = errors.New("the object version is gone")

// isGone reports whether err is S3 saying the key or version does not
// exist.
func isGone(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NoSuchVersion", "NotFound":
			return true
		}
	}
	return false
}

// maxResultBytes bounds a sidecar read back.
const maxResultBytes = 1 << 20

// readResult returns the result (a record or a sidecar) at key, or nil
// when there is none.
func (h *Handler) readResult(ctx context.Context, bucket, key string) (*Result, error) {
	out, err := h.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if isGone(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the sidecar %s: %w", key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, maxResultBytes))
	if err != nil {
		return nil, fmt.Errorf("read the sidecar %s: %w", key, err)
	}
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		// Not ours to trust: inspect again and overwrite it.
		h.logger.WarnContext(ctx, "inspect: the sidecar is not a result; inspecting again", "sidecar", key, "error", err.Error())
		return nil, nil
	}
	return &r, nil
}

// writeResult writes res at key (a record or a sidecar).
func (h *Handler) writeResult(ctx context.Context, bucket, key string, res *Result) error {
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("write the sidecar %s: %w", key, err)
	}
	_, err = h.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(bucket),
		Key:         aws.String(key),
		Body:        bytes.NewReader(data),
		ContentType: aws.String("application/json"),
	})
	if err != nil {
		return fmt.Errorf("write the sidecar %s: %w", key, err)
	}
	return nil
}

// fetch reads o's version whole, into one buffer of its size. A version
// that is gone is errGone; one over max bytes is a rejection.
func (h *Handler) fetch(ctx context.Context, o object, max int64) ([]byte, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(o.bucket), Key: aws.String(o.key)}
	if o.version != "" {
		in.VersionId = aws.String(o.version)
	} else if o.etag != "" {
		in.IfMatch = aws.String(`"` + o.etag + `"`)
	}
	out, err := h.s3.GetObject(ctx, in)
	if isGone(err) {
		return nil, errGone
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "PreconditionFailed" {
		return nil, errGone // replaced since the event: its own event follows
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", o.key, err)
	}
	defer out.Body.Close()
	size := aws.ToInt64(out.ContentLength)
	if err := checkSize(size, max); err != nil {
		return nil, err
	}
	data := make([]byte, 0, size)
	buf := bytes.NewBuffer(data)
	if _, err := io.Copy(buf, io.LimitReader(out.Body, max+1)); err != nil {
		return nil, fmt.Errorf("read %s: %w", o.key, err)
	}
	if int64(buf.Len()) > max {
		return nil, reject("the object is over the limit of %s", sizeText(max))
	}
	return buf.Bytes(), nil
}

// tagObject sets o's tags: the inspector's beside the user's own.
func (h *Handler) tagObject(ctx context.Context, o object, res *Result) error {
	in := &s3.GetObjectTaggingInput{Bucket: aws.String(o.bucket), Key: aws.String(o.key)}
	if o.version != "" {
		in.VersionId = aws.String(o.version)
	}
	got, err := h.s3.GetObjectTagging(ctx, in)
	if isGone(err) {
		return errGone
	}
	if err != nil {
		return fmt.Errorf("read the tags of %s: %w", o.key, err)
	}
	var existing [][2]string
	for _, t := range got.TagSet {
		existing = append(existing, [2]string{aws.ToString(t.Key), aws.ToString(t.Value)})
	}
	var set []types.Tag
	for _, t := range tagsFor(res, existing) {
		set = append(set, types.Tag{Key: aws.String(t[0]), Value: aws.String(t[1])})
	}
	put := &s3.PutObjectTaggingInput{Bucket: aws.String(o.bucket), Key: aws.String(o.key), Tagging: &types.Tagging{TagSet: set}}
	if o.version != "" {
		put.VersionId = aws.String(o.version)
	}
	if _, err := h.s3.PutObjectTagging(ctx, put); err != nil {
		if isGone(err) {
			return errGone
		}
		return fmt.Errorf("tag %s: %w", o.key, err)
	}
	return nil
}

// tagHeader encodes the inspector's tags for x-amz-tagging.
func tagHeader(res *Result) string {
	q := url.Values{}
	for _, t := range tagsFor(res, nil) {
		q.Set(t[0], t[1])
	}
	return q.Encode()
}

// putBlurred writes the blurred copy to public/.
func (h *Handler) putBlurred(ctx context.Context, o object, res *Result, jpegBytes []byte) error {
	_, err := h.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(o.bucket),
		Key:         aws.String(res.PublicKey),
		Body:        bytes.NewReader(jpegBytes),
		ContentType: aws.String("image/jpeg"),
		Tagging:     aws.String(tagHeader(res)),
	})
	if err != nil {
		return fmt.Errorf("write the blurred copy %s: %w", res.PublicKey, err)
	}
	return nil
}

// copyToQuarantine copies o's version to quarantine/ with its tags (the
// user's and the inspector's, written before) and returns the copy's
// version id. A source that is gone is errGone; a copy of another version
// than o's is an error.
func (h *Handler) copyToQuarantine(ctx context.Context, o object, res *Result) (string, error) {
	in := &s3.CopyObjectInput{
		Bucket:           aws.String(o.bucket),
		Key:              aws.String(res.QuarantineKey),
		CopySource:       aws.String(copySource(o.bucket, o.key, o.version)),
		TaggingDirective: types.TaggingDirectiveCopy,
	}
	if o.version == "" && o.etag != "" {
		in.CopySourceIfMatch = aws.String(`"` + o.etag + `"`)
	}
	out, err := h.s3.CopyObject(ctx, in)
	if err != nil {
		if isGone(err) {
			return "", errGone
		}
		return "", fmt.Errorf("copy %s to %s: %w", o.key, res.QuarantineKey, err)
	}
	if got := aws.ToString(out.CopySourceVersionId); o.version != "" && got != o.version {
		return "", fmt.Errorf("copy %s to %s: S3 copied version %q, not %q", o.key, res.QuarantineKey, got, o.version)
	}
	return aws.ToString(out.VersionId), nil
}

// copySource is x-amz-copy-source for a key's version: "<bucket>/<key>",
// every byte of the key but unreserved characters (RFC 3986: letters,
// digits, - . _ ~) and "/" percent-encoded, then "?versionId=" and the
// version, query-encoded. S3 decodes the header as a form value, so a
// "+" left as it is would name a space ("a+b" the key "a b"); botocore
// and the AWS CLI encode the same way.
func copySource(bucket, key, version string) string {
	var b strings.Builder
	b.WriteString(bucket)
	b.WriteByte('/')
	for i := range len(key) {
		c := key[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	if version != "" {
		b.WriteString("?versionId=" + url.QueryEscape(version))
	}
	return b.String()
}

// deleteOriginal deletes o's version under incoming/ (without a version
// id, the key: a versioned bucket then keeps it as a noncurrent version).
// Deleting a version that is already gone succeeds.
func (h *Handler) deleteOriginal(ctx context.Context, o object) error {
	in := &s3.DeleteObjectInput{Bucket: aws.String(o.bucket), Key: aws.String(o.key)}
	if o.version != "" {
		in.VersionId = aws.String(o.version)
	}
	if _, err := h.s3.DeleteObject(ctx, in); err != nil && !isGone(err) {
		return fmt.Errorf("delete %s after its copy to quarantine: %w", o.key, err)
	}
	return nil
}
