package deployed

import (
	"fmt"
	"slices"
	"strings"
)

// A cliError is a failed run of the pulumi CLI, told in a sentence: what
// the CLI said (its "error:" lines, not its usage or progress), or what to
// do when it is a known case. Unwrap gives the original error.
type cliError struct {
	msg string
	err error
}

func (e *cliError) Error() string { return e.msg }
func (e *cliError) Unwrap() error { return e.err }

// explainCLI turns err, from a run of the pulumi CLI on stack, into a
// sentence: a secrets provider that cannot decrypt says what to set, and
// anything else keeps only the CLI's own error message, once ("error:
// error: ..." and the Automation API's dump of stdout and stderr go).
func explainCLI(stack string, err error) error {
	if err == nil {
		return nil
	}
	raw := err.Error()
	said := cliSaid(raw)
	var msg string
	switch {
	case strings.Contains(raw, "passphrase must be set"):
		msg = fmt.Sprintf("stack %s's secrets are encrypted with a passphrase: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE, a file holding it) to the passphrase the stack was created with", stack)
	case strings.Contains(raw, "incorrect passphrase"):
		msg = fmt.Sprintf("the passphrase in PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) does not decrypt stack %s's secrets: set the one the stack was created with", stack)
	case strings.Contains(raw, "secrets manager") || strings.Contains(raw, "secrets provider") || strings.Contains(raw, "failed to decrypt"):
		msg = fmt.Sprintf("stack %s's secrets provider cannot decrypt its secrets (%s): check that your credentials may use its key, as `pulumi config --stack %s --show-secrets` would need", stack, said, stack)
	default:
		msg = said
	}
	return &cliError{msg: msg, err: err}
}

// cliSaid returns what the CLI said in an error's text: its "error: "
// lines without that prefix (however often repeated), joined; or, when
// it has none, the text's first line.
func cliSaid(raw string) string {
	var said []string
	for line := range strings.Lines(raw) {
		// The Automation API's dump writes "stderr: error: ...", runCLI
		// "pulumi <args>: exit status 255: error: ...".
		i := strings.Index(line, "error: ")
		if i < 0 {
			continue
		}
		line = strings.TrimSpace(line[i:])
		for strings.HasPrefix(line, "error: ") {
			line = strings.TrimSpace(strings.TrimPrefix(line, "error: "))
		}
		if line != "" && !slices.Contains(said, line) {
			said = append(said, line)
		}
	}
	if len(said) > 0 {
		return strings.Join(said, "; ")
	}
	first, _, _ := strings.Cut(strings.TrimSpace(raw), "\n")
	return first
}
