//go:build cloud

package dev

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/crossfaas/crossfaas/functions/sleuth"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"

	"github.com/crossfaas/crossfaas/functions/labeler"
)

// TestCloudMode runs `crossfaas dev --cloud` against the user's own
// accounts: Rekognition (AWS default credential chain; the collection is
// deleted afterwards) and Cloud Vision (Application Default Credentials).
// Replies stay in the phone simulator. Run it with
//
//	CROSSFAAS_CLOUD_TEST=1 go test -tags cloud -run TestCloudMode ./internal/dev/
func TestCloudMode(t *testing.T) {
	if os.Getenv("CROSSFAAS_CLOUD_TEST") != "1" {
		t.Skip("cloud test: set CROSSFAAS_CLOUD_TEST=1 (with AWS credentials and GCP Application Default Credentials) to run it")
	}
	t.Setenv(EnvTwilioAccountSID, "")
	t.Setenv(EnvTwilioAuthToken, "")
	collection := fmt.Sprintf("cloudtest%d", time.Now().UnixNano())
	sys := start(t, func(o *Options) { o.Cloud = true; o.WikipediaURL = "" })
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		id := sleuth.CollectionID(DefaultPrefix, collection)
		if _, err := rekognition.NewFromConfig(cfg).DeleteCollection(ctx, &rekognition.DeleteCollectionInput{CollectionId: aws.String(id)}); err != nil {
			t.Errorf("cleanup: delete collection %s: %v", id, err)
		}
	})
	p := loadPhotos(t)
	steps := []struct {
		body  string
		photo []byte
		want  string
	}{
		{"face addcol " + collection, nil, "was created"},
		{"face addimg " + collection + " sample_person", p.person, "added to collection"},
		{"face match " + collection, p.personVariant, "Face matched Sample Person"},
		{"face match " + collection, p.landscape, "couldn't find a face"},
	}
	for _, s := range steps {
		got := awaitReply(t, sys, text(t, sys, s.body, s.photo, "image/jpeg").MessageSid)
		if !strings.Contains(got, s.want) {
			t.Errorf("%s: reply %q, want %q", s.body, got, s.want)
		}
	}

	resp, err := http.Get(sys.GatewayURL + "/detect")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got labeler.Response
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 || got.Annotation == nil || got.Engine != labeler.EngineCloudVision {
		t.Errorf("GET /detect = %d %+v %v, want Cloud Vision labels of the default image", resp.StatusCode, got, err)
	}
}
