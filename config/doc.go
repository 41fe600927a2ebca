// Package config resolves casctl's settings in the order users expect:
// command-line flags, then the environment, then casctl's config file, then
// the AWS shared config and credentials files (for the S3 settings), then
// defaults. Every resolved value remembers where it came from, so a command
// can say so (doctor does); secrets are marked and never printed.
//
// The AWS conventions are followed: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN, AWS_REGION / AWS_DEFAULT_REGION, AWS_PROFILE,
// AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, AWS_SHARED_CREDENTIALS_FILE,
// AWS_CONFIG_FILE, ~/.aws/credentials and ~/.aws/config. casctl's own
// settings use the CASCTL_ prefix; its config file is $CASCTL_CONFIG or
// $XDG_CONFIG_HOME/casctl/config ("key = value" lines, # comments).
package config
