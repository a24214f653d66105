// Command go-emitter puts VoIPBIN events on the voipbin-webhooks bus the way a VoIPBIN Go service
// should: the webhook projection only, requests of at most 10 entries, only failed entries resent
// with backoff, and an entry over EventBridge's 256 KB refused with a clear error.
//
// Input: JSON lines on stdin (or -in FILE), one event per line:
//
//	{"source":"voipbin.call-manager","type":"call_hangup","customer_id":"<uuid>","data":{...}}
//
// Output: one JSON line per event on stdout, {"line":n,"event_id":"..."} or {"line":n,"error":"..."};
// exit status 1 when any event was not put, 2 for bad usage.
//
// Built with the AWS SDK for Go v2 as Debian 12 ships it (core v1.17, eventbridge v1.16), which
// predates BaseEndpoint: a custom endpoint is given with EndpointResolverWithOptions.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
)

type outputLine struct {
	Line    int    `json:"line"`
	EventID string `json:"event_id,omitempty"`
	Error   string `json:"error,omitempty"`
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("go-emitter", flag.ContinueOnError)
	flags.SetOutput(stderr)
	endpoint := flags.String("endpoint", os.Getenv("EVENTBRIDGE_ENDPOINT"), "EventBridge endpoint URL (e.g. http://127.0.0.1:4010 for the local stack); empty: the region's AWS endpoint")
	region := flags.String("region", "", "AWS region (default: the SDK's configuration, AWS_REGION)")
	bus := flags.String("bus", "voipbin-events", "event bus name or ARN")
	in := flags.String("in", "-", "JSON-lines file of events, - for stdin")
	attempts := flags.Int("max-attempts", 5, "attempts per entry for retryable entry failures (InternalFailure, ThrottlingException)")
	timeout := flags.Duration("timeout", 2*time.Minute, "give up after this long")
	if err := flags.Parse(args); err != nil {
		return 2
	}

	var reader io.Reader = stdin
	if *in != "-" {
		file, err := os.Open(*in)
		if err != nil {
			fmt.Fprintf(stderr, "go-emitter: %v\n", err)
			return 2
		}
		defer file.Close()
		reader = file
	}
	events, lines, problems := readEvents(reader)
	for _, problem := range problems {
		fmt.Fprintln(stderr, "go-emitter:", problem)
	}
	if len(problems) > 0 {
		return 2
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	client, err := newClient(ctx, *endpoint, *region)
	if err != nil {
		fmt.Fprintf(stderr, "go-emitter: %v\n", err)
		return 2
	}
	emitter := &Emitter{Client: client, Bus: *bus, MaxAttempts: *attempts}
	results := emitter.Emit(ctx, events)
	encoder := json.NewEncoder(stdout)
	failed := 0
	for _, result := range results {
		line := outputLine{Line: lines[result.Index], EventID: result.EventID}
		if result.Err != nil {
			line.Error = result.Err.Error()
			failed++
		}
		_ = encoder.Encode(line)
	}
	fmt.Fprintf(stderr, "go-emitter: %d put, %d failed\n", len(results)-failed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}

// readEvents parses every line and reports every bad one (by line number) at once.
func readEvents(reader io.Reader) ([]Event, []int, []string) {
	var events []Event
	var lines []int
	var problems []string
	scanner := bufio.NewScanner(reader)
	// One line may hold a whole event; EventBridge's limit is 256 KB, leave room to refuse larger.
	scanner.Buffer(make([]byte, 64*1024), 4*MaxRequestBytes)
	number := 0
	for scanner.Scan() {
		number++
		text := scanner.Bytes()
		if len(trimSpace(text)) == 0 {
			continue
		}
		var event Event
		if err := json.Unmarshal(text, &event); err != nil {
			problems = append(problems, fmt.Sprintf("line %d: not a JSON event: %v", number, err))
			continue
		}
		events = append(events, event)
		lines = append(lines, number)
	}
	if err := scanner.Err(); err != nil {
		problems = append(problems, fmt.Sprintf("line %d: %v", number+1, err))
	}
	return events, lines, problems
}

func trimSpace(b []byte) []byte {
	start, end := 0, len(b)
	for start < end && (b[start] == ' ' || b[start] == '\t' || b[start] == '\r') {
		start++
	}
	for end > start && (b[end-1] == ' ' || b[end-1] == '\t' || b[end-1] == '\r') {
		end--
	}
	return b[start:end]
}

// newClient loads the SDK's default configuration (credentials from the environment, shared
// files or the instance role) and, when endpoint is set, points EventBridge at it. BaseEndpoint
// (eventbridge v1.20.0, July 2023) is not in Debian's SDK; EndpointResolverWithOptions is, and
// is what SDKs older than v1.20.0 use.
func newClient(ctx context.Context, endpoint, region string) (*eventbridge.Client, error) {
	var options []func(*config.LoadOptions) error
	if region != "" {
		options = append(options, config.WithRegion(region))
	}
	if endpoint != "" {
		resolver := aws.EndpointResolverWithOptionsFunc(func(service, resolvedRegion string, _ ...interface{}) (aws.Endpoint, error) {
			if service == eventbridge.ServiceID {
				return aws.Endpoint{URL: endpoint, SigningRegion: resolvedRegion, HostnameImmutable: true}, nil
			}
			return aws.Endpoint{}, &aws.EndpointNotFoundError{}
		})
		options = append(options, config.WithEndpointResolverWithOptions(resolver))
	}
	cfg, err := config.LoadDefaultConfig(ctx, options...)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("no AWS region: set AWS_REGION or pass -region")
	}
	return eventbridge.NewFromConfig(cfg), nil
}
