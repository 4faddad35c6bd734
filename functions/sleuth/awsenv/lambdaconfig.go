package awsenv

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/crossfaas/crossfaas/internal/lambdaenv"
)

// LambdaConfig builds the aws.Config of a Lambda function from the variables
// the Lambda runtime sets, without package github.com/aws/aws-sdk-go-v2/config:
// see lambdaenv.AWSConfig, which it is.
func LambdaConfig() (aws.Config, error) { return lambdaenv.AWSConfig() }
