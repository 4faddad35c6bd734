package uploads_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/crossfaas/crossfaas/infra/uploads"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// exampleMocks stands in for the AWS provider: an ARN for everything and
// the queue's URL.
type exampleMocks struct{}

func (exampleMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	outs := args.Inputs.Copy()
	outs["arn"] = resource.NewProperty("arn:aws:mock:us-east-1:123456789012:" + args.Name)
	if args.TypeToken == "aws:sqs/queue:Queue" {
		outs["url"] = resource.NewProperty("https://sqs.us-east-1.amazonaws.com/123456789012/" + args.Inputs["name"].StringValue())
	}
	return args.Name + "-id", outs, nil
}

func (exampleMocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return nil, fmt.Errorf("unexpected call %s", args.Token)
}

// Deploy the uploads pipeline in front of a labeler: images put under
// incoming/ are inspected. (Run here under mocks: no AWS account; the
// inspector's zip is a stand-in for what gobuild builds.)
func Example() {
	dir, err := os.MkdirTemp("", "uploads-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	zip := filepath.Join(dir, "inspector.zip")
	if err := os.WriteFile(zip, []byte("inspector"), 0o644); err != nil {
		log.Fatal(err)
	}
	sum := sha256.Sum256([]byte("inspector"))
	err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		p, err := uploads.New(ctx, "uploads", &uploads.Args{
			Prefix:           "shop-dev",
			BucketName:       "shop-dev-uploads-123456789012",
			AccountID:        "123456789012",
			Artifact:         gobuild.Artifact{Name: "inspector", Path: zip, Size: 9, SHA256: hex.EncodeToString(sum[:])},
			LabelerURL:       pulumi.String("https://labeler-abc-uc.a.run.app"),
			MaxMiB:           10,
			Action:           "quarantine",
			LogRetentionDays: 14,
		})
		if err != nil {
			return err
		}
		pulumi.All(p.BucketName, p.InspectorName, p.FailedQueueURL).ApplyT(func(v []any) error {
			fmt.Printf("put images in s3://%s/incoming/\ninspected by %s; failures in %s\n", v...)
			return nil
		})
		return nil
	}, pulumi.WithMocks("example", "dev", exampleMocks{}))
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// put images in s3://shop-dev-uploads-123456789012/incoming/
	// inspected by shop-dev-uploads-inspector; failures in https://sqs.us-east-1.amazonaws.com/123456789012/shop-dev-uploads-failed
}
