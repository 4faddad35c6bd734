package gofunction_test

import (
	"archive/zip"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/crossfaas/crossfaas/infra/gofunction"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// exampleMocks stands in for the Google Cloud provider.
type exampleMocks struct{}

func (exampleMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	outs := args.Inputs.Copy()
	switch args.TypeToken {
	case "gcp:storage/bucketObject:BucketObject":
		outs["generation"] = resource.NewProperty(1.0)
	case "gcp:cloudfunctionsv2/function:Function":
		outs["url"] = resource.NewProperty("https://us-central1-my-project.cloudfunctions.net/" + args.Inputs["name"].StringValue())
	}
	return args.Name + "-id", outs, nil
}

func (exampleMocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return nil, fmt.Errorf("unexpected call %s", args.Token)
}

// Deploy a Go module as a Cloud Function: New zips what Cloud Build needs,
// uploads it under its content hash and creates the function. (Run here
// under mocks: no Google Cloud project.)
func Example() {
	out, err := os.MkdirTemp("", "gofunction-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(out)
	err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		fn, err := gofunction.New(ctx, "hello", &gofunction.Args{
			Name: "hello", Project: "my-project", Region: "us-central1",
			ModuleDir:  "testdata/hello", // the directory of its go.mod
			OutDir:     out,
			EntryPoint: "Hello",
			Runtime:    "go126", // checked against go.mod's go directive
			Bucket:     pulumi.String("my-sources"),
			Memory:     "256M", TimeoutSeconds: 60, MaxInstances: 3,
		})
		if err != nil {
			return err
		}
		pulumi.All(fn.URL, fn.SourceObject, fn.Artifact).ApplyT(func(v []any) error {
			fmt.Println(v[0])
			fmt.Println("object named by its digest:", v[1] == "hello-"+v[2].(string)+".zip")
			zr, err := zip.OpenReader(filepath.Join(out, "hello.zip"))
			if err != nil {
				return err
			}
			defer zr.Close()
			for _, f := range zr.File {
				fmt.Println(" ", f.Name)
			}
			return nil
		})
		return nil
	}, pulumi.WithMocks("example", "dev", exampleMocks{}))
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// https://us-central1-my-project.cloudfunctions.net/hello
	// object named by its digest: true
	//   go.mod
	//   hello.go
}
