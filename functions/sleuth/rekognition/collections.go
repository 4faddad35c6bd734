package rekognition

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrek "github.com/aws/aws-sdk-go-v2/service/rekognition"
	"github.com/aws/aws-sdk-go-v2/service/rekognition/types"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

// CollectionsAPI is the part of the Rekognition client Collections uses;
// *rekognition.Client of aws-sdk-go-v2 implements it.
type CollectionsAPI interface {
	ListCollections(ctx context.Context, in *awsrek.ListCollectionsInput, optFns ...func(*awsrek.Options)) (*awsrek.ListCollectionsOutput, error)
	DeleteCollection(ctx context.Context, in *awsrek.DeleteCollectionInput, optFns ...func(*awsrek.Options)) (*awsrek.DeleteCollectionOutput, error)
}

// Collections manages the collections of one stack as a whole.
type Collections struct {
	api    CollectionsAPI
	prefix string
}

// NewCollections returns Collections for the stack of prefix, which must
// be a valid id without sleuth.CollectionSeparator: otherwise the ids of
// another stack could start with it.
func NewCollections(api CollectionsAPI, prefix string) (*Collections, error) {
	if !validID(prefix, false) || strings.Contains(prefix, sleuth.CollectionSeparator) {
		return nil, fmt.Errorf("rekognition: collections: invalid prefix %q", prefix)
	}
	return &Collections{api: api, prefix: prefix}, nil
}

// Mine reports whether id is a collection of the stack:
// sleuth.CollectionID(prefix, name) for some non-empty name.
func (c *Collections) Mine(id string) bool {
	name, ok := strings.CutPrefix(id, sleuth.CollectionID(c.prefix, ""))
	return ok && name != ""
}

// DeleteAll deletes every collection of the stack (see Mine) but those in
// keep, and returns the ids it deleted. A collection that is gone by the
// time it is deleted counts as deleted; other errors stop it.
func (c *Collections) DeleteAll(ctx context.Context, keep []string) ([]string, error) {
	var deleted []string
	in := &awsrek.ListCollectionsInput{MaxResults: aws.Int32(1000)}
	var mine []string
	for {
		out, err := c.api.ListCollections(ctx, in)
		if err != nil {
			return deleted, fmt.Errorf("rekognition: list collections: %w", err)
		}
		for _, id := range out.CollectionIds {
			if c.Mine(id) && !contains(keep, id) {
				mine = append(mine, id)
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	for _, id := range mine {
		_, err := c.api.DeleteCollection(ctx, &awsrek.DeleteCollectionInput{CollectionId: aws.String(id)})
		var notFound *types.ResourceNotFoundException
		if err != nil && !errors.As(err, &notFound) {
			return deleted, fmt.Errorf("rekognition: delete collection %s: %w", id, err)
		}
		deleted = append(deleted, id)
	}
	return deleted, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
